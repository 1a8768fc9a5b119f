//! Who a request is, once authenticated, and what its grants let it do.

use cairn_auth::roles::{Capability, Grant, Resource, Role, Scope, allows};

/// How the principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Password,
    Token,
    Oidc,
    /// Authentication is off: the name is what the client claims (loopback only).
    Unauthenticated,
    /// The server itself (controllers, schedulers).
    System,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Password => "password",
            Via::Token => "token",
            Via::Oidc => "oidc",
            Via::Unauthenticated => "unauthenticated",
            Via::System => "system",
        }
    }
}

/// An authenticated principal: its name (what every history records), whether it is an admin, and
/// its grants.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub via: Via,
    pub is_admin: bool,
    pub grants: Vec<Grant>,
    pub groups: Vec<String>,
}

impl Principal {
    /// A principal with every capability: used when authentication is off (a loopback server) and for
    /// the server's own actions. Four-eyes still tells principals apart by name.
    pub fn unrestricted(name: &str, via: Via) -> Self {
        Self {
            name: name.to_owned(),
            via,
            is_admin: true,
            grants: vec![Grant {
                role: Role::Admin,
                scope: Scope::All,
            }],
            groups: Vec::new(),
        }
    }

    pub fn can(&self, cap: Capability, resource: &Resource<'_>) -> bool {
        allows(&self.grants, cap, resource)
    }

    /// Whether an unscoped grant (`*`) carries `cap`: what server-wide actions (users, grants,
    /// protections, the policy, the audit trail) need. A grant scoped to one model, experiment or
    /// deployment — MLflow's MANAGE on a resource is admin there — does not reach them.
    pub fn can_everywhere(&self, cap: Capability) -> bool {
        self.grants
            .iter()
            .any(|g| g.scope == Scope::All && g.role.has(cap))
    }

    /// Every role the principal holds anywhere, for policy inputs and displays.
    pub fn roles(&self) -> Vec<&'static str> {
        let mut roles: Vec<&'static str> = self.grants.iter().map(|g| g.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        roles
    }
}
