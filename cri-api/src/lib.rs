//! The Kubernetes Container Runtime Interface, version 1 (`runtime.v1`):
//! the RuntimeService and ImageService that kubelet 1.26+ and crictl speak.
//!
//! Generated at build time from `proto/runtime/v1/api.proto`, the upstream
//! k8s.io/cri-api definition, by protox + tonic-prost-build. hulld serves it;
//! the integration tests use the generated clients.

pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("runtime.v1");
}

#[cfg(test)]
mod tests {
    use super::v1;
    use prost::Message;

    #[test]
    fn messages_roundtrip() {
        let req = v1::VersionRequest {
            version: "v1".into(),
        };
        let back = v1::VersionRequest::decode(req.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn both_services_have_servers_and_clients() {
        fn _types(
            _: Option<v1::runtime_service_client::RuntimeServiceClient<tonic::transport::Channel>>,
            _: Option<v1::image_service_client::ImageServiceClient<tonic::transport::Channel>>,
        ) {
        }
        fn _servers<
            R: v1::runtime_service_server::RuntimeService,
            I: v1::image_service_server::ImageService,
        >(
            r: R,
            i: I,
        ) {
            let _ = v1::runtime_service_server::RuntimeServiceServer::new(r);
            let _ = v1::image_service_server::ImageServiceServer::new(i);
        }
    }
}
