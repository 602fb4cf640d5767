//! "Did you mean …?" for misspelt names (keys, KPIs, dimensions).

/// The candidate closest to `word`, when it is close enough to be a plausible typo.
pub fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// `did you mean `x`?` or a list of what is valid.
pub fn help(word: &str, candidates: &[&str]) -> String {
    match closest(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => format!("expected one of: {}", candidates.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_transpositions_and_rejects_strangers() {
        assert_eq!(closest("segmnets", ["sources", "segments", "kpis"]), Some("segments"));
        assert_eq!(closest("frist_response_time", ["first_response_time", "csat"]), Some("first_response_time"));
        assert_eq!(closest("zzz", ["sources", "segments"]), None);
    }
}
