//! Registry credentials: `login`, `logout`, and the credentials stored in
//! Docker's config.json that pulls and pushes send to hulld.

use std::io::{Read, Write};

use anyhow::bail;
use hull_proto::v1 as pb;

use crate::client::Conn;
use crate::dockerconfig;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    #[arg(long)]
    pub password_stdin: bool,
    pub registry: Option<String>,
}

/// The registry host of a reference, for credentials.
fn registry_of(reference: &str) -> String {
    use hull_types::reference::{normalize_name, parse};
    match (normalize_name(reference), parse(reference)) {
        (Ok(_), Ok(r)) => r.registry().to_string(),
        _ => String::new(),
    }
}

pub fn auth_for(reference: &str) -> Option<pb::RegistryAuth> {
    let reg = registry_of(reference);
    match dockerconfig::get(&reg) {
        Ok(Some((u, p))) => Some(pb::RegistryAuth {
            username: u,
            password: p,
            identity_token: String::new(),
        }),
        _ => None,
    }
}

pub async fn login(conn: &Conn, a: LoginArgs) -> anyhow::Result<()> {
    let registry = a.registry.clone().unwrap_or_else(|| "docker.io".into());
    let username = match a.username {
        Some(u) => u,
        None => {
            print!("Username: ");
            std::io::stdout().flush()?;
            let mut s = String::new();
            std::io::stdin().read_line(&mut s)?;
            s.trim().to_string()
        }
    };
    let password = if a.password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if let Some(p) = a.password {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
        p
    } else {
        print!("Password: ");
        std::io::stdout().flush()?;
        let mut s = String::new();
        std::io::stdin().read_line(&mut s)?;
        s.trim_end_matches(['\n', '\r']).to_string()
    };
    if username.is_empty() {
        bail!("username is empty");
    }
    let r = conn
        .transfer()
        .login(conn.req(pb::LoginRequest {
            registry: registry.clone(),
            auth: Some(pb::RegistryAuth {
                username: username.clone(),
                password: password.clone(),
                identity_token: String::new(),
            }),
        }))
        .await?
        .into_inner();
    dockerconfig::store(&registry, &username, &password)?;
    println!("{}", r.status);
    Ok(())
}

/// `logout [REGISTRY]`: forget the stored credentials (no daemon needed).
pub fn logout(registry: Option<&str>) -> anyhow::Result<()> {
    let reg = registry.unwrap_or("docker.io");
    if dockerconfig::erase(reg)? {
        println!("Removing login credentials for {reg}");
    } else {
        println!("Not logged in to {reg}");
    }
    Ok(())
}
