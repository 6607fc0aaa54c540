//! Sets of objects that need each other: the strongly connected components of
//! a finished graph (Tarjan's algorithm). Iterative, with its own stack: a
//! hostile closure can be thousands of objects deep, and recursion that deep
//! would overflow the thread's stack.

use super::graph::{Object, ObjectId, Resolution};

/// Strongly connected sets of more than one object (or an object that needs
/// itself), each sorted, in order.
pub(super) fn find_cycles(objects: &[Object]) -> Vec<Vec<ObjectId>> {
    let mut graph = Graph {
        starts: Vec::with_capacity(objects.len() + 1),
        targets: Vec::new(),
    };
    for o in objects {
        graph.starts.push(graph.targets.len());
        graph
            .targets
            .extend(o.deps.iter().filter_map(|d| match d.resolution {
                Resolution::Object(t) => Some(t),
                _ => None,
            }));
    }
    graph.starts.push(graph.targets.len());
    strongly_connected(&graph)
}

/// Edges in one array (node `v`'s are `targets[starts[v]..starts[v + 1]]`):
/// two allocations per closure instead of one per object.
struct Graph {
    starts: Vec<usize>,
    targets: Vec<usize>,
}

impl Graph {
    fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn edges(&self, v: usize) -> &[usize] {
        &self.targets[self.starts[v]..self.starts[v + 1]]
    }
}

/// Tarjan's bookkeeping for nodes `0..n`.
struct Tarjan {
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    next: usize,
}

impl Tarjan {
    /// Numbers node `v` and puts it on the component stack.
    fn enter(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
    }

    /// The component `v` is the root of, taken off the stack.
    fn component(&mut self, v: usize) -> Vec<usize> {
        let mut set = Vec::new();
        while let Some(w) = self.stack.pop() {
            self.on_stack[w] = false;
            set.push(w);
            if w == v {
                break;
            }
        }
        set
    }
}

/// The cycles of `graph`.
fn strongly_connected(graph: &Graph) -> Vec<Vec<usize>> {
    let n = graph.len();
    let mut t = Tarjan {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
    };
    let mut out = Vec::new();
    // The call stack of the recursive algorithm: a node and how many of its
    // edges have been followed.
    let mut calls: Vec<(usize, usize)> = Vec::new();
    for start in 0..n {
        if t.index[start].is_some() {
            continue;
        }
        t.enter(start);
        calls.push((start, 0));
        while let Some(top) = calls.last_mut() {
            let v = top.0;
            if let Some(&w) = graph.edges(v).get(top.1) {
                top.1 += 1;
                match t.index[w] {
                    None => {
                        t.enter(w);
                        calls.push((w, 0));
                    }
                    Some(iw) if t.on_stack[w] => t.low[v] = t.low[v].min(iw),
                    Some(_) => {}
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                t.low[parent] = t.low[parent].min(t.low[v]);
            }
            if Some(t.low[v]) == t.index[v] {
                let self_loop = graph.edges(v).contains(&v);
                if t.stack.last() == Some(&v) && !self_loop {
                    // Alone, as most objects are: no list to make.
                    t.stack.pop();
                    t.on_stack[v] = false;
                    continue;
                }
                let mut set = t.component(v);
                if set.len() > 1 || self_loop {
                    set.sort_unstable();
                    out.push(set);
                }
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
        let mut graph = Graph {
            starts: Vec::new(),
            targets: Vec::new(),
        };
        for e in edges {
            graph.starts.push(graph.targets.len());
            graph.targets.extend(e);
        }
        graph.starts.push(graph.targets.len());
        super::strongly_connected(&graph)
    }

    #[test]
    fn finds_cycles_and_self_loops() {
        // 0 -> 1 -> 2 -> 1, 2 -> 3 -> 3, 0 -> 4 -> 5 -> 4, 5 -> 0.
        let edges = vec![
            vec![1, 4],
            vec![2],
            vec![1, 3],
            vec![3],
            vec![5],
            vec![4, 0],
        ];
        assert_eq!(
            strongly_connected(&edges),
            vec![vec![0, 4, 5], vec![1, 2], vec![3]]
        );
        assert!(strongly_connected(&[vec![1], vec![2], vec![]]).is_empty());
    }

    #[test]
    fn a_deep_graph_does_not_overflow_the_stack() {
        let n = 200_000;
        let chain: Vec<Vec<usize>> = (0..n)
            .map(|i| if i + 1 < n { vec![i + 1] } else { vec![] })
            .collect();
        assert!(strongly_connected(&chain).is_empty());
        let ring: Vec<Vec<usize>> = (0..n).map(|i| vec![(i + 1) % n]).collect();
        let cycles = strongly_connected(&ring);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), n);
    }
}
