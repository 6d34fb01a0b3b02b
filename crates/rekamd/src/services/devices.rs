//! DeviceService: the inventory, events, self-tests and what each driver can see.

use super::*;

#[tonic::async_trait]
impl pb::device_service_server::DeviceService for Shared {
    async fn list_devices(
        &self,
        _: Request<pb::ListDevicesRequest>,
    ) -> Result<Response<pb::ListDevicesResponse>, Status> {
        let devices = self
            .registry
            .devices()
            .iter()
            .map(|d| convert::device(d, &d.device().state()))
            .collect();
        Ok(Response::new(pb::ListDevicesResponse { devices }))
    }

    type WatchDevicesStream = BoxStream<pb::DeviceEvent>;

    async fn watch_devices(
        &self,
        req: Request<pb::WatchDevicesRequest>,
    ) -> Result<Response<Self::WatchDevicesStream>, Status> {
        let r = req.into_inner();
        // Subscribe before reading the devices' state so no event falls between them.
        let sub = self
            .registry
            .subscribe_after((r.after_sequence > 0).then_some(r.after_sequence));
        let rx = sub.live;
        let mut first = Vec::new();
        if let Some(missed) = &sub.missed {
            // Resuming: the events the client missed (see WatchDevicesRequest).
            for e in missed {
                first.push(Ok(convert::event(e, self.registry.get(&e.info.id).ok())));
            }
        } else if r.include_current || r.after_sequence > 0 {
            // Every configured device, connected or not (see WatchDevicesRequest).
            for d in self.registry.devices() {
                let state = d.device().state();
                let kind = if state == rekam_core::DeviceState::Disconnected {
                    pb::DeviceEventKind::StateChanged
                } else {
                    pb::DeviceEventKind::Attached
                };
                first.push(Ok(pb::DeviceEvent {
                    event_time: Some(convert::now()),
                    sequence: sub.last,
                    kind: kind as i32,
                    device: Some(convert::device(d, &state)),
                }));
            }
        }
        let registry = self.registry.clone();
        let live = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |r| {
            let registry = registry.clone();
            async move {
                match r {
                    Ok(e) => Some(Ok(convert::event(&e, registry.get(&e.info.id).ok()))),
                    // A slow client missed events: tell it, rather than pretend nothing happened.
                    Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                        Some(Err(status::events_dropped(format!(
                            "{n} device events were dropped: watch again with after_sequence"
                        ))))
                    }
                }
            }
        });
        Ok(Response::new(stream_until_shutdown(
            &self.shutdown,
            futures::stream::iter(first).chain(live),
        )))
    }

    async fn self_test(
        &self,
        req: Request<pb::SelfTestRequest>,
    ) -> Result<Response<pb::SelfTestResponse>, Status> {
        let r = req.into_inner();
        let id = names::parse("name", names::DEVICES, &r.name)?;
        let d = dev(self.registry.get(id))?.clone();
        let report = d
            .device()
            .self_test()
            .instrument(info_span!("self_test", device = %id))
            .await;
        Ok(Response::new(pb::SelfTestResponse {
            report: Some(convert::report(&report)),
        }))
    }

    async fn list_available_devices(
        &self,
        req: Request<pb::ListAvailableDevicesRequest>,
    ) -> Result<Response<pb::ListAvailableDevicesResponse>, Status> {
        let class = convert::class_filter("device_class", req.into_inner().device_class)?;
        let table = self.drivers;
        // Drivers look on the system (ports, readers, printers): off the async workers.
        let listings = tokio::task::spawn_blocking(move || table.list(class))
            .await
            .map_err(|e| status::internal(format!("listing the drivers' devices: {e}")))?;
        let drivers = listings
            .iter()
            .map(|l| convert::driver_availability(l, &self.selectors))
            .collect();
        Ok(Response::new(pb::ListAvailableDevicesResponse { drivers }))
    }
}
