//! The open devices of the station and their event stream.

use std::sync::Arc;
use std::time::SystemTime;

use crate::device::{DeviceClass, DeviceEvent, DeviceEventKind, DeviceInfo, DeviceState};
use crate::error::DeviceError;
use crate::events::EventLog;
use crate::traits::*;

/// A device of any class.
#[derive(Clone)]
pub enum AnyDevice {
    /// A fingerprint scanner.
    Fingerprint(Arc<dyn FingerprintScanner>),
    /// A camera.
    Camera(Arc<dyn Camera>),
    /// A signature pad.
    Signature(Arc<dyn SignaturePad>),
    /// A card printer.
    Printer(Arc<dyn CardPrinter>),
    /// A chip encoder.
    Encoder(Arc<dyn ChipEncoder>),
    /// An iris camera.
    Iris(Arc<dyn IrisCamera>),
}

impl AnyDevice {
    /// The device's common interface.
    pub fn device(&self) -> &dyn Device {
        match self {
            AnyDevice::Fingerprint(d) => d.as_ref(),
            AnyDevice::Camera(d) => d.as_ref(),
            AnyDevice::Signature(d) => d.as_ref(),
            AnyDevice::Printer(d) => d.as_ref(),
            AnyDevice::Encoder(d) => d.as_ref(),
            AnyDevice::Iris(d) => d.as_ref(),
        }
    }

    /// Its identity.
    pub fn info(&self) -> &DeviceInfo {
        self.device().info()
    }
}

/// The devices of the station. Create it inside a tokio runtime: it spawns one task per
/// device that turns state changes into [`DeviceEvent`]s.
pub struct Registry {
    devices: Vec<AnyDevice>,
    events: Arc<EventLog<DeviceEvent>>,
}

/// Device events kept for watches that resume.
pub const DEVICE_EVENTS_KEPT: usize = 1024;

/// A subscription to device events, see [`Registry::subscribe_after`].
pub type DeviceSubscription = crate::events::Subscription<DeviceEvent>;

impl crate::events::Sequenced for DeviceEvent {
    fn sequence(&self) -> u64 {
        self.sequence
    }
}

fn event_kind(old: &DeviceState, new: &DeviceState) -> DeviceEventKind {
    match (old, new) {
        (DeviceState::Disconnected, DeviceState::Disconnected) => DeviceEventKind::StateChanged,
        (_, DeviceState::Disconnected) => DeviceEventKind::Detached,
        (DeviceState::Disconnected, _) => DeviceEventKind::Attached,
        _ => DeviceEventKind::StateChanged,
    }
}

impl Registry {
    /// Takes ownership of the opened devices; ids must be unique.
    pub fn new(devices: Vec<AnyDevice>) -> Result<Self, DeviceError> {
        let mut ids: Vec<&str> = devices.iter().map(|d| d.info().id.as_str()).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(DeviceError::InvalidArgument(format!(
                "two devices share the id {}",
                w[0]
            )));
        }
        let events = Arc::new(EventLog::new(DEVICE_EVENTS_KEPT, 256));
        for d in &devices {
            let mut rx = d.device().watch_state();
            let info = d.info().clone();
            let log = events.clone();
            // Read the initial state now, not in the task, so that a change made before
            // the task first runs is still seen as a change.
            let mut last = rx.borrow_and_update().clone();
            if let Some(mut card) = d.device().watch_card() {
                let state = d.device().watch_state();
                let info = info.clone();
                let log = events.clone();
                let mut present = *card.borrow_and_update();
                tokio::spawn(async move {
                    while card.changed().await.is_ok() {
                        let now = *card.borrow_and_update();
                        if now == present {
                            continue;
                        }
                        present = now;
                        let kind = if now {
                            DeviceEventKind::CardInserted
                        } else {
                            DeviceEventKind::CardRemoved
                        };
                        log.publish(|sequence| DeviceEvent {
                            sequence,
                            at: SystemTime::now(),
                            kind,
                            info: info.clone(),
                            state: state.borrow().clone(),
                        });
                    }
                });
            }
            tokio::spawn(async move {
                while rx.changed().await.is_ok() {
                    let state = rx.borrow_and_update().clone();
                    let kind = event_kind(&last, &state);
                    last = state.clone();
                    log.publish(|sequence| DeviceEvent {
                        sequence,
                        at: SystemTime::now(),
                        kind,
                        info: info.clone(),
                        state,
                    });
                }
            });
        }
        Ok(Registry { devices, events })
    }

    /// Subscribes to live events and, when `after` is given and still kept, returns the
    /// events sent after it: nothing is missed and nothing comes twice.
    pub fn subscribe_after(&self, after: Option<u64>) -> DeviceSubscription {
        self.events.subscribe_after(after)
    }

    /// Every device, in configuration order.
    pub fn devices(&self) -> &[AnyDevice] {
        &self.devices
    }

    /// The device with that id.
    pub fn get(&self, id: &str) -> Result<&AnyDevice, DeviceError> {
        self.devices
            .iter()
            .find(|d| d.info().id == id)
            .ok_or_else(|| DeviceError::NotFound(format!("no device {id}")))
    }

    /// Subscribes to device events from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<DeviceEvent> {
        self.events.subscribe()
    }

    fn pick<T>(
        &self,
        id: &str,
        class: DeviceClass,
        f: impl Fn(&AnyDevice) -> Option<T>,
    ) -> Result<T, DeviceError> {
        if id.is_empty() {
            self.devices.iter().find_map(&f).ok_or_else(|| {
                DeviceError::NotFound(format!("no {} is configured", class.short_name()))
            })
        } else {
            let d = self.get(id)?;
            f(d).ok_or_else(|| {
                DeviceError::InvalidArgument(format!(
                    "{id} is a {}, not a {}",
                    d.info().class.short_name(),
                    class.short_name()
                ))
            })
        }
    }

    /// The fingerprint scanner with that id, or the first one when `id` is empty.
    pub fn fingerprint(&self, id: &str) -> Result<Arc<dyn FingerprintScanner>, DeviceError> {
        self.pick(id, DeviceClass::FingerprintScanner, |d| match d {
            AnyDevice::Fingerprint(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// The camera with that id, or the first one when `id` is empty.
    pub fn camera(&self, id: &str) -> Result<Arc<dyn Camera>, DeviceError> {
        self.pick(id, DeviceClass::Camera, |d| match d {
            AnyDevice::Camera(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// The signature pad with that id, or the first one when `id` is empty.
    pub fn signature(&self, id: &str) -> Result<Arc<dyn SignaturePad>, DeviceError> {
        self.pick(id, DeviceClass::SignaturePad, |d| match d {
            AnyDevice::Signature(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// The card printer with that id, or the first one when `id` is empty.
    pub fn printer(&self, id: &str) -> Result<Arc<dyn CardPrinter>, DeviceError> {
        self.pick(id, DeviceClass::CardPrinter, |d| match d {
            AnyDevice::Printer(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// The chip encoder with that id, or the first one when `id` is empty.
    pub fn encoder(&self, id: &str) -> Result<Arc<dyn ChipEncoder>, DeviceError> {
        self.pick(id, DeviceClass::ChipEncoder, |d| match d {
            AnyDevice::Encoder(x) => Some(x.clone()),
            _ => None,
        })
    }

    /// The iris camera with that id, or the first one when `id` is empty.
    pub fn iris(&self, id: &str) -> Result<Arc<dyn IrisCamera>, DeviceError> {
        self.pick(id, DeviceClass::Iris, |d| match d {
            AnyDevice::Iris(x) => Some(x.clone()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::DiagnosticReport;
    use crate::sim::StateCell;
    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use std::time::Duration;
    use tokio::sync::watch;

    struct Fake {
        info: DeviceInfo,
        cell: StateCell,
        card: watch::Sender<bool>,
    }

    #[async_trait]
    impl Device for Fake {
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn watch_state(&self) -> watch::Receiver<DeviceState> {
            self.cell.subscribe()
        }
        fn watch_card(&self) -> Option<watch::Receiver<bool>> {
            Some(self.card.subscribe())
        }
        async fn self_test(&self) -> DiagnosticReport {
            DiagnosticReport {
                device_id: self.info.id.clone(),
                checks: vec![],
                elapsed: Duration::ZERO,
            }
        }
    }

    #[async_trait]
    impl Camera for Fake {
        fn preview(&self) -> BoxStream<'static, Result<crate::Frame, DeviceError>> {
            Box::pin(futures::stream::empty())
        }
        async fn capture_still(&self) -> Result<crate::Frame, DeviceError> {
            Err(DeviceError::Unsupported("fake".into()))
        }
    }

    fn fake(id: &str) -> (Arc<Fake>, StateCell) {
        let cell = StateCell::new(id);
        let info = DeviceInfo {
            id: id.into(),
            class: DeviceClass::Camera,
            vendor: "v".into(),
            model: "m".into(),
            serial: "s".into(),
            firmware: "f".into(),
            driver: "fake".into(),
            simulated: true,
        };
        (
            Arc::new(Fake {
                info,
                cell: cell.clone(),
                card: watch::Sender::new(false),
            }),
            cell,
        )
    }

    #[tokio::test]
    async fn state_changes_become_attach_detach_and_state_events() {
        let (cam, cell) = fake("camera0");
        let reg = Registry::new(vec![AnyDevice::Camera(cam)]).unwrap();
        let mut rx = reg.subscribe();
        cell.set(DeviceState::Busy);
        assert_eq!(rx.recv().await.unwrap().kind, DeviceEventKind::StateChanged);
        cell.set(DeviceState::Disconnected);
        assert_eq!(rx.recv().await.unwrap().kind, DeviceEventKind::Detached);
        cell.set(DeviceState::Ready);
        let e = rx.recv().await.unwrap();
        assert_eq!(e.kind, DeviceEventKind::Attached);
        assert_eq!(e.state, DeviceState::Ready);
        assert_eq!(e.info.id, "camera0");
    }

    #[tokio::test]
    async fn a_card_arriving_and_leaving_are_events_of_their_own() {
        let (dev, cell) = fake("encoder0");
        let reg = Registry::new(vec![AnyDevice::Camera(dev.clone())]).unwrap();
        let mut rx = reg.subscribe();
        dev.card.send_replace(true);
        let e = rx.recv().await.unwrap();
        assert_eq!(
            (e.kind, &e.state),
            (DeviceEventKind::CardInserted, &DeviceState::Ready)
        );
        // A repeated value is no event; the state at the time rides along.
        dev.card.send_replace(true);
        cell.set(DeviceState::Busy);
        assert_eq!(rx.recv().await.unwrap().kind, DeviceEventKind::StateChanged);
        dev.card.send_replace(false);
        let e = rx.recv().await.unwrap();
        assert_eq!(
            (e.kind, &e.state),
            (DeviceEventKind::CardRemoved, &DeviceState::Busy)
        );
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn lookup_by_class_and_id() {
        let (cam, _) = fake("camera0");
        let reg = Registry::new(vec![AnyDevice::Camera(cam)]).unwrap();
        assert!(reg.camera("").is_ok());
        assert!(reg.camera("camera0").is_ok());
        assert!(matches!(
            reg.camera("camera9"),
            Err(DeviceError::NotFound(_))
        ));
        assert!(matches!(reg.printer(""), Err(DeviceError::NotFound(_))));
        assert!(matches!(
            reg.printer("camera0"),
            Err(DeviceError::InvalidArgument(_))
        ));
    }

    #[tokio::test]
    async fn duplicate_ids_are_refused() {
        let (a, _) = fake("camera0");
        let (b, _) = fake("camera0");
        assert!(Registry::new(vec![AnyDevice::Camera(a), AnyDevice::Camera(b)]).is_err());
    }
}
