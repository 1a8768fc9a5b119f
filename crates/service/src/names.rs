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

pub(crate) fn generate_run_name() -> String {
    let r: u64 = rand_u64();
    let adj = ADJECTIVES[(r % ADJECTIVES.len() as u64) as usize];
    let noun = NOUNS[((r >> 16) % NOUNS.len() as u64) as usize];
    format!("{adj}-{noun}-{}", (r >> 32) % 1000)
}

fn rand_u64() -> u64 {
    // A fresh run id is 128 random bits; reuse that source rather than adding a dependency.
    let id = cairn_domain::RunId::generate();
    u64::from_str_radix(&id.as_str()[..16], 16).unwrap_or(0)
}
