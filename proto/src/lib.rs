//! hull's gRPC API, package `hull.v1`, generated at build time from
//! `proto/hull/v1/*.proto` by protox + tonic-prost-build.
//!
//! The namespace of a call travels in the gRPC metadata key
//! [`NAMESPACE_HEADER`]; absent means [`DEFAULT_NAMESPACE`].

/// gRPC metadata key carrying the namespace of a call.
pub const NAMESPACE_HEADER: &str = "hull-namespace";
/// Namespace used when a call names none.
pub const DEFAULT_NAMESPACE: &str = "default";
/// API version string reported by the Version service.
pub const API_VERSION: &str = "hull.v1";

pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("hull.v1");
}

#[cfg(test)]
mod tests {
    use super::v1;
    use prost::Message;

    #[test]
    fn descriptor_roundtrip() {
        let d = v1::Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            digest: "sha256:00".into(),
            size: 42,
            annotations: Default::default(),
        };
        let bytes = d.encode_to_vec();
        let back = v1::Descriptor::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, d);
    }

    #[test]
    fn services_are_generated() {
        // Server and client types exist for every service of hull.v1.
        #[allow(clippy::too_many_arguments)]
        fn _types(
            _: Option<v1::version_client::VersionClient<tonic::transport::Channel>>,
            _: Option<v1::content_client::ContentClient<tonic::transport::Channel>>,
            _: Option<v1::images_client::ImagesClient<tonic::transport::Channel>>,
            _: Option<v1::snapshots_client::SnapshotsClient<tonic::transport::Channel>>,
            _: Option<v1::transfer_client::TransferClient<tonic::transport::Channel>>,
            _: Option<v1::events_client::EventsClient<tonic::transport::Channel>>,
            _: Option<v1::leases_client::LeasesClient<tonic::transport::Channel>>,
            _: Option<v1::containers_client::ContainersClient<tonic::transport::Channel>>,
            _: Option<v1::tasks_client::TasksClient<tonic::transport::Channel>>,
            _: Option<v1::build_client::BuildClient<tonic::transport::Channel>>,
        ) {
        }
        assert_eq!(super::API_VERSION, "hull.v1");
    }
}
