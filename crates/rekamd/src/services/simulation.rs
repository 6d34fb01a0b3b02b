//! SimulationService: faults injected into the simulators (served only when the configuration enables them).

use super::*;

impl Shared {
    fn with_sim<T>(
        &self,
        target: &str,
        f: impl FnOnce(&dyn SimulatorControl) -> Result<T, Status>,
    ) -> Result<T, Status> {
        let sim = match target {
            "siak" => self.pipeline.siak().simulator(),
            "datacentre" | "data_centre" => self.pipeline.data_centre().simulator(),
            name => dev(self
                .registry
                .get(names::parse("target", names::DEVICES, name)?))?
            .device()
            .simulator(),
        };
        match sim {
            Some(s) => f(s),
            None => Err(status::not_a_simulator(target)),
        }
    }
}

#[tonic::async_trait]
impl pb::simulation_service_server::SimulationService for Shared {
    async fn list_faults(
        &self,
        req: Request<pb::ListFaultsRequest>,
    ) -> Result<Response<pb::ListFaultsResponse>, Status> {
        let target = req.into_inner().target;
        self.with_sim(&target, |s| {
            Ok(Response::new(pb::ListFaultsResponse {
                faults: s
                    .faults()
                    .into_iter()
                    .map(|f| pb::FaultSpec {
                        name: f.name.to_string(),
                        description: f.description.to_string(),
                    })
                    .collect(),
                active: s.active_faults(),
            }))
        })
    }

    async fn inject_fault(
        &self,
        req: Request<pb::InjectFaultRequest>,
    ) -> Result<Response<pb::InjectFaultResponse>, Status> {
        let r = req.into_inner();
        self.with_sim(&r.target, |s| {
            dev(s.inject(&r.fault))?;
            tracing::info!(target = %r.target, fault = %r.fault, "fault injected");
            Ok(Response::new(pb::InjectFaultResponse {
                active: s.active_faults(),
            }))
        })
    }

    async fn get_scenario(
        &self,
        _req: Request<pb::GetScenarioRequest>,
    ) -> Result<Response<pb::GetScenarioResponse>, Status> {
        let Some(s) = &self.scenario else {
            return Err(status::no_scenario());
        };
        let targets: Vec<pb::ScenarioTarget> = s
            .targets
            .iter()
            .map(|t| {
                let script = &t.script;
                let st = script.status();
                let rule_no = |i: Option<usize>| i.map(|i| i as u32 + 1).unwrap_or(0);
                let name = match script.target() {
                    n @ ("siak" | "datacentre" | "data_centre") => n.to_string(),
                    id => names::device(id),
                };
                pb::ScenarioTarget {
                    target: name,
                    calls: st.calls,
                    rules: script
                        .rules()
                        .iter()
                        .map(|r| pb::ScenarioRule {
                            calls: r.calls.unwrap_or(0),
                            faults: r.faults.clone(),
                            latency: prost_types::Duration::try_from(r.latency).ok(),
                            origin: r.origin.clone(),
                        })
                        .collect(),
                    current_rule: rule_no(st.current_rule),
                    next_rule: rule_no(st.next_rule),
                    next_rule_calls_left: st.next_rule_calls_left.unwrap_or(0),
                    finished: st.finished,
                }
            })
            .collect();
        Ok(Response::new(pb::GetScenarioResponse {
            name: s.name.clone(),
            description: s.description.clone(),
            path: s.path.display().to_string(),
            finished: targets.iter().all(|t| t.finished),
            targets,
        }))
    }

    async fn clear_faults(
        &self,
        req: Request<pb::ClearFaultsRequest>,
    ) -> Result<Response<pb::ClearFaultsResponse>, Status> {
        let target = req.into_inner().target;
        self.with_sim(&target, |s| {
            s.clear();
            tracing::info!(target = %target, "faults cleared");
            Ok(Response::new(pb::ClearFaultsResponse {}))
        })
    }
}
