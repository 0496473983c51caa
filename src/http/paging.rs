//! Page size and position of the admin list endpoints (`?limit=&offset=`),
//! read by `extract::Query` (a parameter that is not a number is a 422
//! naming it) and checked once at the edge into a [`Page`]: `limit` from 1 to
//! [`MAX_PAGE_SIZE`] (default [`DEFAULT_PAGE_SIZE`]), `offset` 0 or more. A
//! value out of range is a 422 naming the parameter, so no request can ask
//! the database for an unbounded list.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::error::ApiError;

/// The largest page a list endpoint returns.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// The page size when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: i64 = 100;

/// The query of a list endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// At most this many items (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    pub limit: Option<i64>,
    /// Skip this many items first (0 or more, default 0).
    #[param(minimum = 0, nullable = false)]
    pub offset: Option<i64>,
}

/// A checked page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// How many items, 1 to [`MAX_PAGE_SIZE`].
    pub limit: i64,
    /// How many to skip, 0 or more.
    pub offset: i64,
}

impl Page {
    /// Checks a list endpoint's query, every bad parameter reported together.
    pub fn from_query(query: PageQuery) -> Result<Page, ApiError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE_SIZE);
        let offset = query.offset.unwrap_or(0);
        let mut problems = BTreeMap::new();
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            problems.insert(
                "limit".to_owned(),
                format!("must be from 1 to {MAX_PAGE_SIZE} (got {limit})"),
            );
        }
        if offset < 0 {
            problems.insert(
                "offset".to_owned(),
                format!("must not be negative (got {offset})"),
            );
        }
        if problems.is_empty() {
            Ok(Page { limit, offset })
        } else {
            Err(ApiError::fields(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(limit: Option<i64>, offset: Option<i64>) -> Result<Page, ApiError> {
        Page::from_query(PageQuery { limit, offset })
    }

    #[test]
    fn a_missing_limit_is_the_default_page() {
        assert_eq!(
            page(None, None).unwrap(),
            Page {
                limit: DEFAULT_PAGE_SIZE,
                offset: 0
            }
        );
    }

    #[test]
    fn an_out_of_range_limit_and_offset_are_both_named() {
        let ApiError::Validation { fields, .. } =
            page(Some(MAX_PAGE_SIZE + 1), Some(-1)).unwrap_err()
        else {
            panic!("a 422");
        };

        assert!(fields["limit"].contains("1 to 1000"), "{fields:?}");
        assert!(fields.contains_key("offset"));
        assert!(page(Some(0), None).is_err());
        assert!(page(Some(MAX_PAGE_SIZE), Some(5)).is_ok());
    }
}
