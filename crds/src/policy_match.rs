//! IAM's `StringLike`/`ArnLike` matching: `*` matches any run of characters, `?` exactly one.
//! Used to prove, in tests and in `audit isolation`, which resources a policy pattern reaches.

/// True when `pattern` (with IAM wildcards) matches `value` in full. Case-sensitive, as ARNs are.
pub fn arn_like(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let v: Vec<char> = value.chars().collect();
    // Iterative glob match with backtracking to the last `*`.
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// True when the pattern contains an IAM wildcard.
pub fn has_wildcard(pattern: &str) -> bool {
    pattern.contains('*') || pattern.contains('?')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        let cases = [
            ("*", "anything", true),
            ("*", "", true),
            ("abc", "abc", true),
            ("abc", "abcd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*c", "ac", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            (
                "secret:/openclaw/a/db-??????",
                "secret:/openclaw/a/db-AbC123",
                true,
            ),
            (
                "secret:/openclaw/a/db-??????",
                "secret:/openclaw/a/db-AbC1234",
                false,
            ),
            (
                "secret:/openclaw/a/db-??????",
                "secret:/openclaw/a-b/db-AbC123",
                false,
            ),
            (
                "secret:/openclaw/a*",
                "secret:/openclaw/a-b/db-AbC123",
                true,
            ),
            ("bucket/tenants/a/*", "bucket/tenants/a/x/y", true),
            ("bucket/tenants/a/*", "bucket/tenants/ab/x", false),
            ("ARN", "arn", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b*", "xxbxxaxx", false),
        ];
        for (p, v, want) in cases {
            assert_eq!(arn_like(p, v), want, "{p} vs {v}");
        }
    }
}
