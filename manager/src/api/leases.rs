//! The Leases service.

use std::collections::BTreeMap;

use hull_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::{namespace, Server};
use crate::content::now_secs;
use crate::metadata::{ns_key, Table};
use crate::registry::pull::LeaseRecord;

fn lease_pb(l: LeaseRecord) -> pb::Lease {
    let id =
        l.id.split_once('/')
            .map(|(_, i)| i.to_string())
            .unwrap_or(l.id);
    pb::Lease {
        id,
        created_at: l.created_at,
        labels: l.labels.into_iter().collect(),
        expires_at: l.expires_at,
        resources: l
            .resources
            .into_iter()
            .map(|(t, i)| pb::LeaseResource { r#type: t, id: i })
            .collect(),
    }
}

#[tonic::async_trait]
impl pb::leases_server::Leases for Server {
    async fn create(
        &self,
        req: Request<pb::CreateLeaseRequest>,
    ) -> Result<Response<pb::Lease>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let id = if r.id.is_empty() {
            format!("lease-{}", now_secs())
        } else {
            r.id
        };
        let key = ns_key(&ns, &id);
        let rec = LeaseRecord {
            id: key.clone(),
            created_at: now_secs(),
            labels: r.labels.into_iter().collect::<BTreeMap<_, _>>(),
            expires_at: if r.expire_seconds > 0 {
                now_secs() + r.expire_seconds
            } else {
                0
            },
            resources: Vec::new(),
        };
        if !self.m.db.create(Table::Leases, &key, &rec)? {
            return Err(Status::already_exists(format!("lease {id}")));
        }
        Ok(Response::new(lease_pb(rec)))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteLeaseRequest>,
    ) -> Result<Response<pb::LeaseEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        if !self.m.db.delete(Table::Leases, &ns_key(&ns, &r.id))? {
            return Err(Status::not_found(format!("lease {}", r.id)));
        }
        if r.sync {
            let _g = self.m.gc_lock.write().await;
            self.blocking(|m| crate::gc::collect(&m)).await?;
        }
        Ok(Response::new(pb::LeaseEmpty {}))
    }

    async fn list(
        &self,
        req: Request<pb::ListLeasesRequest>,
    ) -> Result<Response<pb::ListLeasesResponse>, Status> {
        let ns = namespace(&req)?;
        let l: Vec<(String, LeaseRecord)> = self.m.db.list(Table::Leases, &format!("{ns}/"))?;
        Ok(Response::new(pb::ListLeasesResponse {
            leases: l.into_iter().map(|(_, v)| lease_pb(v)).collect(),
        }))
    }

    async fn add_resource(
        &self,
        req: Request<pb::LeaseResourceRequest>,
    ) -> Result<Response<pb::LeaseEmpty>, Status> {
        let ns = namespace(&req)?;
        let r = req.into_inner();
        let key = ns_key(&ns, &r.id);
        let mut rec: LeaseRecord = self
            .m
            .db
            .get(Table::Leases, &key)?
            .ok_or_else(|| Status::not_found(format!("lease {}", r.id)))?;
        let res = r
            .resource
            .ok_or_else(|| Status::invalid_argument("no resource"))?;
        rec.resources.push((res.r#type, res.id));
        self.m.db.put(Table::Leases, &key, &rec)?;
        Ok(Response::new(pb::LeaseEmpty {}))
    }
}
