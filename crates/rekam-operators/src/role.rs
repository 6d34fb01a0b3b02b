//! The roles of the service standard.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::OperatorError;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The registry officer: runs the enrollment steps, reads enrollments and their media.
    Officer,
    /// A supervisor: what an officer does, plus overrides (fingers that cannot reach the
    /// quality), cancellations, reprints and re-encodes.
    Supervisor,
    /// A technician: device diagnostics, direct device calls, simulator faults, the outbox.
    Technician,
    /// The Head of Office: complaints escalated to the top.
    HeadOfOffice,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [
        Role::Officer,
        Role::Supervisor,
        Role::Technician,
        Role::HeadOfOffice,
    ];

    /// The role's name (`officer`, `supervisor`, `technician`, `head_of_office`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Supervisor => "supervisor",
            Role::Technician => "technician",
            Role::HeadOfOffice => "head_of_office",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = OperatorError;

    /// A role by name, case-insensitive, `-` accepted for `_` (`head-of-office`).
    fn from_str(s: &str) -> Result<Role, OperatorError> {
        let norm = s.trim().to_ascii_lowercase().replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == norm)
            .ok_or_else(|| OperatorError::Invalid {
                field: "role",
                message: format!(
                    "{s:?} is not a role: officer, supervisor, technician or head_of_office"
                ),
            })
    }
}

/// A set of roles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Roles(u8);

impl Roles {
    /// Every role (the station's own local user when sign-in is not required).
    pub fn all() -> Roles {
        Role::ALL.into_iter().collect()
    }

    /// Whether the set holds `role`.
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the set holds any of `roles`.
    pub fn any(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// The roles, in their order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Roles {
        Roles(iter.into_iter().fold(0, |acc, r| acc | r.bit()))
    }
}

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Role::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_and_combine() {
        assert_eq!(
            "Head-Of-Office".parse::<Role>().unwrap(),
            Role::HeadOfOffice
        );
        assert!("janitor".parse::<Role>().is_err());
        let r: Roles = [Role::Officer, Role::Technician].into_iter().collect();
        assert!(r.has(Role::Officer) && r.has(Role::Technician) && !r.has(Role::Supervisor));
        assert!(r.any(&[Role::Supervisor, Role::Technician]));
        assert!(!r.any(&[Role::Supervisor, Role::HeadOfOffice]));
        assert_eq!(r.to_string(), "officer,technician");
        assert_eq!(Roles::all().iter().count(), 4);
        assert!(Roles::default().is_empty());
    }
}
