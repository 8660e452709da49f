//! The Networks service.

use hull_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::{namespace, Server};
use crate::containers;
use crate::manager::Manager;
use crate::network::{self, NetworkRecord};

fn network_pb(m: &Manager, n: NetworkRecord) -> pb::Network {
    pb::Network {
        inspect_json: network::inspect_json(m, &n).to_string(),
        id: n.id,
        name: n.name,
        driver: n.driver,
        subnet: n.subnet,
        gateway: n.gateway,
        bridge: n.bridge,
        created_at: n.created_at,
        internal: n.internal,
        labels: n.labels.into_iter().collect(),
    }
}

#[tonic::async_trait]
impl pb::networks_server::Networks for Server {
    async fn create(
        &self,
        req: Request<pb::CreateNetworkRequest>,
    ) -> Result<Response<pb::Network>, Status> {
        let r = req.into_inner();
        let n = self
            .blocking(move |m| {
                let n = network::create(
                    &m,
                    network::CreateNetwork {
                        name: r.name,
                        subnet: r.subnet,
                        gateway: r.gateway,
                        driver: r.driver,
                        labels: r.labels.into_iter().collect(),
                        internal: r.internal,
                    },
                )?;
                Ok(network_pb(&m, n))
            })
            .await?;
        Ok(Response::new(n))
    }

    async fn list(
        &self,
        _req: Request<pb::ListNetworksRequest>,
    ) -> Result<Response<pb::ListNetworksResponse>, Status> {
        let networks = self
            .blocking(move |m| {
                network::ensure_default(&m)?;
                Ok(network::list(&m)?
                    .into_iter()
                    .map(|n| network_pb(&m, n))
                    .collect())
            })
            .await?;
        Ok(Response::new(pb::ListNetworksResponse { networks }))
    }

    async fn get(
        &self,
        req: Request<pb::GetNetworkRequest>,
    ) -> Result<Response<pb::Network>, Status> {
        let name = req.into_inner().name;
        let n = self
            .blocking(move |m| Ok(network_pb(&m, network::find(&m, &name)?)))
            .await?;
        Ok(Response::new(n))
    }

    async fn remove(
        &self,
        req: Request<pb::RemoveNetworkRequest>,
    ) -> Result<Response<pb::NetworkEmpty>, Status> {
        let name = req.into_inner().name;
        self.blocking(move |m| network::remove(&m, &name)).await?;
        Ok(Response::new(pb::NetworkEmpty {}))
    }

    async fn prune(
        &self,
        _req: Request<pb::PruneNetworksRequest>,
    ) -> Result<Response<pb::PruneNetworksResponse>, Status> {
        let removed = self.blocking(move |m| network::prune(&m)).await?;
        Ok(Response::new(pb::PruneNetworksResponse { removed }))
    }

    async fn connect_container(
        &self,
        req: Request<pb::ConnectNetworkRequest>,
    ) -> Result<Response<pb::NetworkEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        self.blocking(move |m| network::connect(&m, &ns, &r.container, &r.network, r.aliases))
            .await?;
        Ok(Response::new(pb::NetworkEmpty {}))
    }

    async fn disconnect_container(
        &self,
        req: Request<pb::DisconnectNetworkRequest>,
    ) -> Result<Response<pb::NetworkEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        self.blocking(move |m| network::disconnect(&m, &ns, &r.container, &r.network))
            .await?;
        Ok(Response::new(pb::NetworkEmpty {}))
    }

    async fn container_settings(
        &self,
        req: Request<pb::ContainerNetworkRequest>,
    ) -> Result<Response<pb::ContainerNetwork>, Status> {
        let ns = namespace(&req)?;
        let what = req.into_inner().container;
        let out = self
            .blocking(move |m| {
                let c = containers::find(&m, &ns, &what)?;
                let Some(ep) = network::get_endpoint(&m, &ns, &c.id)? else {
                    return Ok(pb::ContainerNetwork::default());
                };
                Ok(pb::ContainerNetwork {
                    settings_json: network::settings_json(&ep).to_string(),
                    inspect_json: network::inspect_extra_json(&ep).to_string(),
                    ports: ep.bindings.iter().map(binding_pb).collect(),
                    mode: ep.mode,
                })
            })
            .await?;
        Ok(Response::new(out))
    }
}

/// A published port as the API shows it ("80/tcp", 0.0.0.0 for every
/// address).
pub(crate) fn binding_pb(b: &network::ports::Binding) -> pb::PortBinding {
    pb::PortBinding {
        container_port: format!("{}/{}", b.container_port, b.proto),
        host_ip: if b.host_ip.is_empty() {
            "0.0.0.0".into()
        } else {
            b.host_ip.clone()
        },
        host_port: b.host_port.into(),
    }
}
