//! `cairn admin init`, `cairn user …`, `cairn token …`, `cairn grant …`: who may sign in and what each
//! may do.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::{api, call, print_json, s};

#[derive(Debug, Args)]
pub struct AdminCommand {
    #[command(subcommand)]
    command: AdminSub,
}

#[derive(Debug, Subcommand)]
enum AdminSub {
    /// Create the first admin in a server's store (before `cairn server --auth` starts): the user and
    /// password come from --username/--password or CAIRN_ADMIN_USERNAME/CAIRN_ADMIN_PASSWORD. Does
    /// nothing when an admin exists.
    Init(AdminInit),
}

#[derive(Debug, Args)]
struct AdminInit {
    #[arg(long, env = "CAIRN_ADMIN_USERNAME")]
    username: String,
    #[arg(long, env = "CAIRN_ADMIN_PASSWORD", hide_env_values = true)]
    password: String,
    /// The server's data folder and store, as `cairn server` takes them.
    #[command(flatten)]
    server: StoreArgs,
}

/// Where a server keeps its data, for the commands that work on it directly.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The data folder (`cairn.db`, `artifacts/`, `audit/`).
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "./cairn-data")]
    pub data_dir: std::path::PathBuf,
    /// The metadata store URI, when not SQLite in the data folder.
    #[arg(long, env = "CAIRN_BACKEND_STORE_URI")]
    pub backend_store_uri: Option<String>,
    /// The artifact destination, when not the data folder's `artifacts/`.
    #[arg(long, env = "CAIRN_ARTIFACTS_DESTINATION")]
    pub artifacts_destination: Option<String>,
    /// The audit signing key file, when not `audit/signing.key` in the data folder.
    #[arg(long, env = "CAIRN_AUDIT_SIGNING_KEY")]
    pub audit_key: Option<std::path::PathBuf>,
}

impl StoreArgs {
    pub fn config(&self) -> cairn_server::ServerConfig {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            c: cairn_server::ServerConfig,
        }
        let mut c = Wrap::parse_from(["cairn"]).c;
        c.data_dir = self.data_dir.clone();
        c.backend_store_uri = self.backend_store_uri.clone();
        c.artifacts_destination = self.artifacts_destination.clone();
        c.audit_key = self.audit_key.clone();
        c
    }
}

pub async fn admin(cmd: AdminCommand) -> Result<()> {
    match cmd.command {
        AdminSub::Init(a) => {
            let created =
                cairn_server::admin_init(&a.server.config(), &a.username, &a.password).await?;
            if created {
                println!("created admin {}", a.username);
            } else {
                println!("an admin exists already: nothing changed");
            }
            Ok(())
        }
    }
}

#[derive(Debug, Args)]
pub struct UserCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when http(s), else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: UserSub,
}

#[derive(Debug, Subcommand)]
enum UserSub {
    /// Create a user (admin). The password comes from --password or CAIRN_NEW_PASSWORD; without one the
    /// user signs in with tokens only.
    Create {
        name: String,
        #[arg(long, env = "CAIRN_NEW_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        #[arg(long)]
        admin: bool,
    },
    /// Every user (admin).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user with their tokens and grants (admin).
    Delete { name: String },
    /// Change a password (one's own, or anyone's as an admin).
    Passwd {
        name: String,
        #[arg(long, env = "CAIRN_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

pub async fn user(cmd: UserCommand) -> Result<()> {
    let c = api(cmd.server.as_deref());
    match cmd.command {
        UserSub::Create {
            name,
            password,
            admin,
        } => {
            call(
                &c,
                Method::POST,
                "/users",
                &[],
                Some(&json!({"username": name, "password": password, "is_admin": admin})),
            )
            .await?;
            println!("created user {name}");
        }
        UserSub::List { json } => {
            let v = call(&c, Method::GET, "/users", &[], None).await?;
            if json {
                return print_json(&v);
            }
            for u in v["users"].as_array().into_iter().flatten() {
                println!(
                    "{}{}",
                    s(&u["name"]),
                    if u["is_admin"] == true {
                        "  (admin)"
                    } else {
                        ""
                    }
                );
            }
        }
        UserSub::Delete { name } => {
            call(
                &c,
                Method::DELETE,
                &format!("/users/{}", cairn_client::encode_segment(&name)),
                &[],
                None,
            )
            .await?;
            println!("deleted user {name}");
        }
        UserSub::Passwd { name, password } => {
            call(
                &c,
                Method::PUT,
                &format!("/users/{}/password", cairn_client::encode_segment(&name)),
                &[],
                Some(&json!({"password": password})),
            )
            .await?;
            println!("changed the password of {name}");
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct TokenCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when http(s), else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    #[command(subcommand)]
    command: TokenSub,
}

#[derive(Debug, Subcommand)]
enum TokenSub {
    /// Create an API token and print it once (it is stored hashed). Use it as
    /// MLFLOW_TRACKING_TOKEN, or as MLFLOW_TRACKING_PASSWORD beside your user name.
    Create {
        #[arg(long)]
        name: String,
        /// For another user (admin).
        #[arg(long)]
        user: Option<String>,
        /// Days until it expires (0: never).
        #[arg(long, default_value_t = 90)]
        expires_days: u32,
        /// Print `{"id", "token", …}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Your tokens (every user's, or --user's, as an admin); never their secrets.
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id (yours, or anyone's as an admin).
    Revoke { id: String },
}

pub async fn token(cmd: TokenCommand) -> Result<()> {
    let c = api(cmd.server.as_deref());
    match cmd.command {
        TokenSub::Create {
            name,
            user,
            expires_days,
            json,
        } => {
            let v = call(
                &c,
                Method::POST,
                "/tokens",
                &[],
                Some(&json!({"name": name, "user": user, "expires_days": expires_days})),
            )
            .await?;
            let t = &v["token"];
            if json {
                return print_json(
                    &json!({"id": t["id"], "token": t["secret"], "user": t["user"], "name": t["name"], "expires_ms": t["expires_ms"]}),
                );
            }
            println!("{}", s(&t["secret"]));
            eprintln!(
                "token {} for {} (shown once; store it now)",
                s(&t["id"]),
                s(&t["user"])
            );
        }
        TokenSub::List { user, json } => {
            let q: Vec<(&str, String)> = user.map(|u| ("user", u)).into_iter().collect();
            let v = call(&c, Method::GET, "/tokens", &q, None).await?;
            if json {
                return print_json(&v);
            }
            for t in v["tokens"].as_array().into_iter().flatten() {
                let state = if !t["revoked_ms"].is_null() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}  {}  {}  {state}  expires {}",
                    s(&t["id"]),
                    s(&t["user"]),
                    s(&t["name"]),
                    crate::client::time(t["expires_ms"].as_i64())
                );
            }
        }
        TokenSub::Revoke { id } => {
            call(
                &c,
                Method::POST,
                &format!("/tokens/{}/revoke", cairn_client::encode_segment(&id)),
                &[],
                None,
            )
            .await?;
            println!("revoked token {id}");
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when http(s), else http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
    /// Who gets the role.
    #[arg(long, required_unless_present = "list")]
    user: Option<String>,
    /// viewer, scientist, approver, operator, invoker, auditor or admin.
    #[arg(long, required_unless_present = "list")]
    role: Option<String>,
    /// Only on models whose name matches this glob.
    #[arg(long, conflicts_with_all = ["experiment", "deployment"])]
    model: Option<String>,
    /// Only on this experiment (and its runs).
    #[arg(long, conflicts_with = "deployment")]
    experiment: Option<String>,
    /// Only on deployments whose name matches this glob.
    #[arg(long)]
    deployment: Option<String>,
    /// Remove the grant instead.
    #[arg(long)]
    revoke: bool,
    /// List grants (of --user, or everyone's).
    #[arg(long)]
    list: bool,
    #[arg(long)]
    json: bool,
}

pub async fn grant(a: GrantArgs) -> Result<()> {
    let c = api(a.server.as_deref());
    if a.list {
        let q: Vec<(&str, String)> = a.user.clone().map(|u| ("user", u)).into_iter().collect();
        let v = call(&c, Method::GET, "/grants", &q, None).await?;
        if a.json {
            return print_json(&v);
        }
        for g in v["grants"].as_array().into_iter().flatten() {
            println!("{}  {}  {}", s(&g["user"]), s(&g["role"]), s(&g["scope"]));
        }
        return Ok(());
    }
    let (Some(user), Some(role)) = (a.user, a.role) else {
        bail!("--user and --role are required");
    };
    let scope = match (a.model, a.experiment, a.deployment) {
        (Some(m), _, _) => format!("model:{m}"),
        (_, Some(e), _) => format!("experiment:{e}"),
        (_, _, Some(d)) => format!("deployment:{d}"),
        _ => "*".to_owned(),
    };
    let body = json!({"user": user, "role": role, "scope": scope});
    if a.revoke {
        let v = call(&c, Method::DELETE, "/grants", &[], Some(&body)).await?;
        println!(
            "{} {role} on {scope} for {user}",
            if v["removed"] == true {
                "revoked"
            } else {
                "no such grant:"
            }
        );
    } else {
        let v = call(&c, Method::POST, "/grants", &[], Some(&body)).await?;
        println!(
            "{} {role} on {scope} to {user}",
            if v["added"] == true {
                "granted"
            } else {
                "already held:"
            }
        );
    }
    Ok(())
}
