//! The data-centre adapter named in the configuration (`[datacentre] driver`): the
//! in-process simulator, NATS JetStream or HTTP. A network transport connects on first
//! use, so the daemon starts (and serves its devices) while the broker is away; the
//! outbox keeps the packages until it is back.

use std::sync::Arc;

use async_trait::async_trait;
use rekam_core::sim::Timing;
use rekam_enrollment::{DataCentre, DataCentreSim};
use rekam_outbox::{
    AnswerSink, Delivered, HttpConfig, HttpTransport, NatsConfig, NatsTransport, Parcel, Transport,
    TransportError,
};
use tokio::sync::OnceCell;

use crate::Config;

/// The data centre of the configuration.
pub fn open(config: &Config, timing: Timing) -> anyhow::Result<Arc<dyn DataCentre>> {
    let c = &config.datacentre;
    let station = config.station.id.clone();
    Ok(match c.driver.as_str() {
        "sim" => Arc::new(DataCentreSim::new(timing)),
        "nats" => {
            if c.url.is_empty() {
                anyhow::bail!("[datacentre] driver \"nats\" needs url = \"nats://host:4222\"");
            }
            Arc::new(LazyNats::new(NatsConfig::new(c.url.clone(), station)))
        }
        "http" => {
            if c.url.is_empty() {
                anyhow::bail!("[datacentre] driver \"http\" needs url = \"https://…\"");
            }
            let t = HttpTransport::new(HttpConfig::new(c.url.clone(), station))
                .map_err(|e| anyhow::anyhow!("[datacentre] {e}"))?;
            Arc::new(t)
        }
        other => anyhow::bail!(
            "data-centre driver {other:?} is not built into this rekamd; available: sim, nats, http"
        ),
    })
}

/// The NATS transport, connected on first use (connecting needs the async runtime, which
/// the daemon's synchronous start-up does not await).
struct LazyNats {
    config: NatsConfig,
    cell: OnceCell<NatsTransport>,
}

impl LazyNats {
    fn new(config: NatsConfig) -> Self {
        LazyNats {
            config,
            cell: OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&NatsTransport, TransportError> {
        self.cell
            .get_or_try_init(|| NatsTransport::connect(self.config.clone()))
            .await
    }
}

#[async_trait]
impl Transport for LazyNats {
    fn name(&self) -> &'static str {
        "nats"
    }
    async fn deliver(&self, parcel: &Parcel) -> Result<Delivered, TransportError> {
        self.get().await?.deliver(parcel).await
    }
    async fn receive_answers(&self, sink: &dyn AnswerSink) -> Result<usize, TransportError> {
        self.get().await?.receive_answers(sink).await
    }
}

impl DataCentre for LazyNats {}
