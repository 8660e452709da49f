//! `cri-call SOCKET COMMAND [ARGS]`: a few CRI v1 calls from the shell, for
//! `make bench` (crictl is not packaged in Debian). Commands:
//!
//! - `version`: runtime name and version
//! - `pull REF [USER:PASSWORD]`: pull, print the image ref
//! - `images`: one line per image, ID and tags
//! - `rmi REF`: remove an image
//! - `pod NAME IMAGE [LOGDIR]`: RunPodSandbox (host network; its log
//!   directory LOGDIR/NAME, made here as kubelet does), CreateContainer
//!   (`sleep 3600` in IMAGE, logging to main.log) and StartContainer;
//!   print the pod's ID
//! - `rmp POD`: StopPodSandbox and RemovePodSandbox
//! - `rmp-all`: the same for every pod
//!
//! Exits 1 with the gRPC status on stderr when a call fails.

use std::path::Path;
use std::process::ExitCode;

use hull_cri_api::v1;
use hull_cri_api::v1::image_service_client::ImageServiceClient;
use hull_cri_api::v1::runtime_service_client::RuntimeServiceClient;

type Error = Box<dyn std::error::Error>;

fn spec(image: &str) -> Option<v1::ImageSpec> {
    Some(v1::ImageSpec {
        image: image.into(),
        ..Default::default()
    })
}

/// A pod on the host's network (no CNI needed), its own PID and IPC
/// namespaces, named `name` in the namespace "bench".
fn pod_config(name: &str) -> v1::PodSandboxConfig {
    v1::PodSandboxConfig {
        metadata: Some(v1::PodSandboxMetadata {
            name: name.into(),
            uid: format!("{name}-uid"),
            namespace: "bench".into(),
            attempt: 0,
        }),
        // On the host's network the pod shares the host's UTS namespace,
        // so no hostname of its own.
        linux: Some(v1::LinuxPodSandboxConfig {
            security_context: Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    network: v1::NamespaceMode::Node as i32,
                    pid: v1::NamespaceMode::Pod as i32,
                    ipc: v1::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn remove_pod(
    rs: &mut RuntimeServiceClient<tonic::transport::Channel>,
    pod: &str,
) -> Result<(), Error> {
    rs.stop_pod_sandbox(v1::StopPodSandboxRequest {
        pod_sandbox_id: pod.into(),
    })
    .await?;
    rs.remove_pod_sandbox(v1::RemovePodSandboxRequest {
        pod_sandbox_id: pod.into(),
    })
    .await?;
    Ok(())
}

async fn run(args: &[String]) -> Result<(), Error> {
    let (socket, cmd, rest) = match args {
        [s, c, rest @ ..] => (s, c.as_str(), rest),
        _ => {
            return Err(
                "usage: cri-call SOCKET version|pull REF [USER:PASSWORD]|images|rmi REF".into(),
            )
        }
    };
    let ch = hull_integration::cri::connect(Path::new(socket)).await?;
    let mut images = ImageServiceClient::new(ch.clone());
    match (cmd, rest) {
        ("version", []) => {
            let v = RuntimeServiceClient::new(ch)
                .version(v1::VersionRequest {
                    version: "v1".into(),
                })
                .await?
                .into_inner();
            println!(
                "{} {} {}",
                v.runtime_name, v.runtime_version, v.runtime_api_version
            );
        }
        ("pull", [reference, creds @ ..]) => {
            let auth = match creds {
                [] => None,
                [c] => {
                    let (u, p) = c.split_once(':').ok_or("credentials are USER:PASSWORD")?;
                    Some(v1::AuthConfig {
                        username: u.into(),
                        password: p.into(),
                        ..Default::default()
                    })
                }
                _ => return Err("pull REF [USER:PASSWORD]".into()),
            };
            let r = images
                .pull_image(v1::PullImageRequest {
                    image: spec(reference),
                    auth,
                    sandbox_config: None,
                })
                .await?
                .into_inner();
            println!("{}", r.image_ref);
        }
        ("images", []) => {
            let l = images
                .list_images(v1::ListImagesRequest { filter: None })
                .await?
                .into_inner();
            for i in l.images {
                println!("{} {}", i.id, i.repo_tags.join(","));
            }
        }
        ("rmi", [reference]) => {
            images
                .remove_image(v1::RemoveImageRequest {
                    image: spec(reference),
                })
                .await?;
        }
        ("pod", [name, image, logdir @ ..]) if logdir.len() <= 1 => {
            let mut rs = RuntimeServiceClient::new(ch);
            let mut config = pod_config(name);
            let mut log_path = String::new();
            if let [dir] = logdir {
                let d = Path::new(dir).join(name);
                std::fs::create_dir_all(&d)?;
                config.log_directory = d.display().to_string();
                log_path = "main.log".into();
            }
            let pod = rs
                .run_pod_sandbox(v1::RunPodSandboxRequest {
                    config: Some(config.clone()),
                    runtime_handler: String::new(),
                })
                .await?
                .into_inner()
                .pod_sandbox_id;
            let ctr = rs
                .create_container(v1::CreateContainerRequest {
                    pod_sandbox_id: pod.clone(),
                    config: Some(v1::ContainerConfig {
                        metadata: Some(v1::ContainerMetadata {
                            name: "main".into(),
                            attempt: 0,
                        }),
                        image: spec(image),
                        command: vec!["sleep".into(), "3600".into()],
                        log_path,
                        ..Default::default()
                    }),
                    sandbox_config: Some(config),
                })
                .await?
                .into_inner()
                .container_id;
            rs.start_container(v1::StartContainerRequest { container_id: ctr })
                .await?;
            println!("{pod}");
        }
        ("rmp", [pod]) => remove_pod(&mut RuntimeServiceClient::new(ch), pod).await?,
        ("rmp-all", []) => {
            let mut rs = RuntimeServiceClient::new(ch);
            let pods = rs
                .list_pod_sandbox(v1::ListPodSandboxRequest { filter: None })
                .await?
                .into_inner()
                .items;
            for p in pods {
                remove_pod(&mut rs, &p.id).await?;
            }
        }
        _ => return Err(format!("unknown command or arguments: {cmd} {}", rest.join(" ")).into()),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cri-call: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cri-call: {e}");
            ExitCode::FAILURE
        }
    }
}
