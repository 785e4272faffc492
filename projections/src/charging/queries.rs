//! Typed queries over the charging views, for the operator's commands.

use crate::views::{ViewError, Views};

impl Views {
    /// The subject uid of the certificate with `serial`, as the authority's view knows it.
    pub async fn certificate_subject(&self, serial: &str) -> Result<Option<String>, ViewError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT subject_uid FROM charging.authority_certificates WHERE serial = $1", &[&serial])
            .await?;
        Ok(row.map(|row| row.get(0)))
    }
}
