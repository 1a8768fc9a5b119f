//! Numbers as text the way Python prints them (`1.0`, `0.1`, `1e+300` aside), so a numeric value used
//! as a category label reads as pandas would show it.

pub fn number(x: f64) -> String {
    format!("{x:?}")
}
