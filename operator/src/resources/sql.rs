//! Identifier quoting for the PostgreSQL kinds (not a kind itself).
//!
//! Must never: let an identifier into SQL unchecked or unquoted.

use crate::error::{ReconcileError, Result};

/// `"ident"`, after checking the identifier is one of ours ([a-z0-9_], as naming derives them).
pub fn quote_ident(ident: &str) -> Result<String> {
    if ident.is_empty()
        || ident.len() > 63
        || !ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(ReconcileError::Internal(format!(
            "refusing to use {ident:?} as a PostgreSQL identifier"
        )));
    }
    Ok(format!("\"{ident}\""))
}

/// Quotes an identifier we did not name (found in the catalog): doubles embedded quotes.
pub fn quote_any(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked_before_quoting() {
        assert_eq!(
            quote_ident("tenant_acme").ok(),
            Some("\"tenant_acme\"".into())
        );
        for bad in ["", "Tenant", "a\"b", "a;b", "a b", &"x".repeat(64)] {
            assert!(quote_ident(bad).is_err(), "{bad:?}");
        }
        assert_eq!(quote_any("we\"ird"), "\"we\"\"ird\"");
    }
}
