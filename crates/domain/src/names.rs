//! Friendly generated run names (`bold-heron-417`), as MLflow gives runs started without a name.

const ADJECTIVES: &[&str] = &[
    "able", "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager",
    "fair", "gentle", "glad", "grand", "honest", "jolly", "keen", "kind", "lively", "loud",
    "lucky", "merry", "mighty", "nimble", "polite", "proud", "quick", "quiet", "rare", "sharp",
    "shy", "silent", "sly", "smooth", "spry", "steady", "sunny", "swift", "tidy", "vast", "warm",
    "wise", "witty", "zesty",
];
const NOUNS: &[&str] = &[
    "ant", "bass", "bat", "bear", "bee", "carp", "cat", "colt", "crab", "crane", "crow", "deer",
    "dove", "eel", "elk", "finch", "fox", "frog", "goat", "gull", "hare", "hawk", "heron", "horse",
    "jay", "lark", "lynx", "mole", "moth", "newt", "owl", "panda", "quail", "ram", "robin", "seal",
    "shrew", "slug", "snail", "stork", "swan", "toad", "trout", "wasp", "whale", "wolf", "wren",
    "yak",
];

/// A fresh `adjective-noun-NNN` name.
pub fn generate_run_name() -> String {
    let r: u64 = rand::random();
    let adj = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[((r >> 16) % NOUNS.len() as u64) as usize];
    format!("{adj}-{noun}-{}", (r >> 32) % 1000)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_have_three_parts() {
        let name = super::generate_run_name();
        let parts: Vec<&str> = name.split('-').collect();
        assert_eq!(parts.len(), 3, "{name}");
        assert!(parts[2].parse::<u32>().unwrap() < 1000);
    }
}
