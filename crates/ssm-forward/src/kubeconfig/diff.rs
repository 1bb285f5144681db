//! A small line diff for showing a changed kubeconfig entry.

/// Lines longer than this are shortened on display (certificates).
const MAX_SHOWN: usize = 100;

/// Renders `before` → `after` in unified style: `---`/`+++` headers,
/// then every line prefixed with ` `, `-` or `+`.
pub fn unified(old_label: &str, new_label: &str, before: &str, after: &str) -> String {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let mut out = format!("--- {old_label}\n+++ {new_label}\n");
    for (sign, line) in diff_lines(&old, &new) {
        out.push(sign);
        out.push_str(&shorten(line));
        out.push('\n');
    }
    out
}

/// The lines of a minimal edit script (longest common subsequence).
fn diff_lines<'a>(old: &[&'a str], new: &[&'a str]) -> Vec<(char, &'a str)> {
    // common[i][j]: length of the LCS of old[i..] and new[j..].
    let mut common = vec![vec![0usize; new.len() + 1]; old.len() + 1];
    for i in (0..old.len()).rev() {
        for j in (0..new.len()).rev() {
            common[i][j] = if old[i] == new[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(old.len() + new.len());
    while i < old.len() || j < new.len() {
        if i < old.len() && j < new.len() && old[i] == new[j] {
            out.push((' ', old[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < old.len() && (j == new.len() || common[i + 1][j] >= common[i][j + 1]) {
            out.push(('-', old[i]));
            i += 1;
        } else {
            out.push(('+', new[j]));
            j += 1;
        }
    }
    out
}

fn shorten(line: &str) -> String {
    if line.chars().count() <= MAX_SHOWN {
        return line.to_owned();
    }
    let head: String = line.chars().take(MAX_SHOWN - 20).collect();
    let rest = line.chars().count() - head.chars().count();
    format!("{head}… ({rest} more characters)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_insertions_in_place() {
        let text = unified("a", "b", "x\ny\nz\n", "x\ny\nnew\nz\n");
        assert_eq!(text, "--- a\n+++ b\n x\n y\n+new\n z\n");
    }

    #[test]
    fn shows_replacements() {
        let text = unified("a", "b", "k: 1\nn: x\n", "k: 2\nn: x\n");
        assert_eq!(text, "--- a\n+++ b\n-k: 1\n+k: 2\n n: x\n");
    }

    #[test]
    fn shortens_long_lines() {
        let long = "c".repeat(300);
        let text = unified("a", "b", &long, &long);
        assert!(text.contains("(220 more characters)"), "{text}");
    }
}
