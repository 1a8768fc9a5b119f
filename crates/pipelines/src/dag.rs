//! The DAG: an edge `a → b` where a dep of `b` is an out of `a`, inside one, or a directory holding
//! one. Two stages writing one path (or nested paths), a stage reading its own out, and cycles are
//! configuration errors.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{PipelineError, Result};
use crate::paths;
use crate::spec::Pipeline;

/// Stages as indexes into `Pipeline::stages`, with their edges and one topological order.
#[derive(Debug, Clone)]
pub struct Dag {
    /// `upstream[i]`: the stages `i` reads an out of.
    pub upstream: Vec<BTreeSet<usize>>,
    pub downstream: Vec<BTreeSet<usize>>,
    /// Every stage once, upstream before downstream; ties in file order.
    pub order: Vec<usize>,
}

impl Dag {
    pub fn build(file: &Path, p: &Pipeline) -> Result<Dag> {
        let n = p.stages.len();
        // Two writers of one path.
        for (i, a) in p.stages.iter().enumerate() {
            for b in &p.stages[..i] {
                for out in &a.outs {
                    if let Some(other) = b.outs.iter().find(|o| paths::overlap(&o.path, &out.path))
                    {
                        return Err(PipelineError::config(
                            file,
                            out.pos,
                            format!(
                                "stage '{}': out '{}' overlaps out '{}' of stage '{}' (one path, one writer)",
                                a.name, out.path, other.path, b.name
                            ),
                        ));
                    }
                }
            }
            for (j, out) in a.outs.iter().enumerate() {
                if let Some(other) = a.outs[..j]
                    .iter()
                    .find(|o| paths::overlap(&o.path, &out.path))
                {
                    return Err(PipelineError::config(
                        file,
                        out.pos,
                        format!(
                            "stage '{}': out '{}' overlaps its out '{}'",
                            a.name, out.path, other.path
                        ),
                    ));
                }
            }
        }
        let mut upstream = vec![BTreeSet::new(); n];
        let mut downstream = vec![BTreeSet::new(); n];
        for (i, s) in p.stages.iter().enumerate() {
            for dep in &s.deps {
                for (j, t) in p.stages.iter().enumerate() {
                    if t.outs.iter().any(|o| paths::overlap(&dep.path, &o.path)) {
                        if i == j {
                            return Err(PipelineError::config(
                                file,
                                dep.pos,
                                format!(
                                    "stage '{}': dep '{}' is its own out (a cycle)",
                                    s.name, dep.path
                                ),
                            ));
                        }
                        upstream[i].insert(j);
                        downstream[j].insert(i);
                    }
                }
            }
        }
        // Kahn's algorithm, always taking the first ready stage in file order.
        let mut indegree: Vec<usize> = upstream.iter().map(BTreeSet::len).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &downstream[i] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() < n {
            let cycle = find_cycle(&upstream, &indegree);
            let names: Vec<&str> = cycle.iter().map(|&i| p.stages[i].name.as_str()).collect();
            return Err(PipelineError::config(
                file,
                p.stages[cycle[0]].pos,
                format!("the stages form a cycle: {}", names.join(" -> ")),
            ));
        }
        Ok(Dag {
            upstream,
            downstream,
            order,
        })
    }

    /// The named stages and everything upstream of them, in topological order; all stages when
    /// `targets` is empty.
    pub fn select(&self, targets: &[usize]) -> Vec<usize> {
        if targets.is_empty() {
            return self.order.clone();
        }
        let mut keep = BTreeSet::new();
        let mut stack: Vec<usize> = targets.to_vec();
        while let Some(i) = stack.pop() {
            if keep.insert(i) {
                stack.extend(self.upstream[i].iter().copied());
            }
        }
        self.order
            .iter()
            .copied()
            .filter(|i| keep.contains(i))
            .collect()
    }
}

/// A cycle among the stages Kahn's algorithm could not order, as a path that returns to its start.
fn find_cycle(upstream: &[BTreeSet<usize>], indegree: &[usize]) -> Vec<usize> {
    let start = (0..upstream.len())
        .find(|&i| indegree[i] > 0)
        .expect("a stage left over");
    // Walk upstream through unordered stages until a stage repeats.
    let mut path = vec![start];
    let mut cur = start;
    loop {
        let next = *upstream[cur]
            .iter()
            .find(|&&u| indegree[u] > 0)
            .expect("an unordered stage has an unordered upstream");
        if let Some(at) = path.iter().position(|&s| s == next) {
            // In data-flow order, starting from the stage written first.
            let mut cycle: Vec<usize> = path[at..].to_vec();
            cycle.reverse();
            let first = (0..cycle.len()).min_by_key(|&i| cycle[i]).expect("a cycle");
            cycle.rotate_left(first);
            cycle.push(cycle[0]);
            return cycle;
        }
        path.push(next);
        cur = next;
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{error, project};

    #[test]
    fn edges_from_outs_to_deps_inside_and_around() {
        let yaml = "stages:\n  a:\n    cmd: x\n    outs: [data/prepared]\n  b:\n    cmd: x\n    deps: [data/prepared/train.csv]\n    outs: [model]\n  c:\n    cmd: x\n    deps: [data, model]\n  d:\n    cmd: x\n";
        let (_d, p) = project(&[("cairn.yaml", yaml)]);
        let dag = p.unwrap().dag;
        assert_eq!(dag.upstream[1].iter().copied().collect::<Vec<_>>(), [0]);
        assert_eq!(dag.upstream[2].iter().copied().collect::<Vec<_>>(), [0, 1]);
        assert!(dag.upstream[3].is_empty());
        assert_eq!(dag.order, [0, 1, 2, 3]);
        assert_eq!(dag.select(&[1]), [0, 1]);
        assert_eq!(dag.select(&[3]), [3]);
    }

    #[test]
    fn order_follows_edges_not_the_file() {
        let yaml =
            "stages:\n  late:\n    cmd: x\n    deps: [e]\n  early:\n    cmd: x\n    outs: [e]\n";
        let (_d, p) = project(&[("cairn.yaml", yaml)]);
        assert_eq!(p.unwrap().dag.order, [1, 0]);
    }

    #[test]
    fn cycles_and_two_writers_are_configuration_errors() {
        let cycle = "stages:\n  a:\n    cmd: x\n    deps: [y]\n    outs: [x]\n  b:\n    cmd: x\n    deps: [x]\n    outs: [y]\n";
        let e = error(cycle, &[]);
        assert!(
            e.starts_with("cairn.yaml:2:3: the stages form a cycle: "),
            "{e}"
        );
        assert!(
            e.contains("a -> b -> a") || e.contains("b -> a -> b"),
            "{e}"
        );
        let dup = "stages:\n  a:\n    cmd: x\n    outs: [m]\n  b:\n    cmd: x\n    outs: [m/sub]\n";
        assert_eq!(
            error(dup, &[]),
            "cairn.yaml:7:12: stage 'b': out 'm/sub' overlaps out 'm' of stage 'a' (one path, one writer)"
        );
        let own = "stages:\n  a:\n    cmd: x\n    deps: [m]\n    outs: [m]\n";
        assert!(error(own, &[]).starts_with("cairn.yaml:4:12: stage 'a': dep 'm' is its own out"));
    }
}
