//! Who sends a user command, and what the site's and the user's own streams said about them when it arrived:
//! the facts from outside an aggregate that its rules need. The command side loads them; `decide` judges them.

use serde::{Deserialize, Serialize};

use super::error::{SiteError, SiteResult};
use super::user::{UserState, UserStatus};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Caller {
    pub cid: String,
    /// Whether the operator had locked the site (`SiteLocked`).
    pub site_locked: bool,
    /// The caller's status on this site; `None` when no such user is registered.
    pub status: Option<UserStatus>,
}

impl Caller {
    /// The caller as the site's state and the caller's user stream describe them.
    pub fn of(cid: &str, site_locked: bool, user: &UserState) -> Caller {
        Caller { cid: cid.to_owned(), site_locked, status: user.registered.then_some(user.status) }
    }

    /// Refuses unless the site is open and the caller is an active user: users act only then.
    pub fn require_active(&self) -> SiteResult<()> {
        if self.site_locked {
            return Err(SiteError::SiteLocked);
        }
        match self.status {
            None => Err(SiteError::UserMissing),
            Some(UserStatus::Active) => Ok(()),
            Some(other) => Err(SiteError::UserNotActive(other.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(site_locked: bool, status: Option<UserStatus>) -> Caller {
        Caller { cid: "alice".into(), site_locked, status }
    }

    #[test]
    fn only_an_active_user_of_an_open_site_may_act() {
        assert_eq!(caller(false, Some(UserStatus::Active)).require_active(), Ok(()));
        assert_eq!(caller(true, Some(UserStatus::Active)).require_active(), Err(SiteError::SiteLocked));
        assert_eq!(caller(false, None).require_active(), Err(SiteError::UserMissing));
        assert_eq!(caller(false, Some(UserStatus::Locked)).require_active(), Err(SiteError::UserNotActive("locked")));
    }
}
