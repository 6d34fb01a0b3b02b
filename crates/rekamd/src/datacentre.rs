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
            Arc::new(Lazy::<NatsTransport>::new(
                "nats",
                NatsConfig::new(c.url.clone(), station),
            ))
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

/// Something that connects asynchronously.
#[async_trait]
trait Connect: Transport + Sized {
    type Config: Clone + Send + Sync;
    async fn connect(config: Self::Config) -> Result<Self, TransportError>;
}

#[async_trait]
impl Connect for NatsTransport {
    type Config = NatsConfig;
    async fn connect(config: NatsConfig) -> Result<Self, TransportError> {
        NatsTransport::connect(config).await
    }
}

/// A transport that connects on first use.
struct Lazy<T: Connect> {
    name: &'static str,
    config: T::Config,
    cell: OnceCell<T>,
}

impl<T: Connect> Lazy<T> {
    fn new(name: &'static str, config: T::Config) -> Self {
        Lazy {
            name,
            config,
            cell: OnceCell::new(),
        }
    }

    async fn get(&self) -> Result<&T, TransportError> {
        self.cell
            .get_or_try_init(|| T::connect(self.config.clone()))
            .await
    }
}

#[async_trait]
impl<T: Connect> Transport for Lazy<T> {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn deliver(&self, parcel: &Parcel) -> Result<Delivered, TransportError> {
        self.get().await?.deliver(parcel).await
    }
    async fn receive_answers(&self, sink: &dyn AnswerSink) -> Result<usize, TransportError> {
        self.get().await?.receive_answers(sink).await
    }
}

impl<T: Connect> DataCentre for Lazy<T> {}
