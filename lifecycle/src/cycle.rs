//! The compile-time dependency cycle check behind `#[derive(Component)]`.
//!
//! Each derive puts its component's place in the graph in a `static`
//! [`Node`]: its name and a [`Link`] to each dependency's node. Statics may
//! point at each other in a loop, so the nodes of a cyclic graph can be
//! built, and a `const fn` can walk them: a derive's `const` item asks
//! [`cycle`] whether its component is in a cycle and, if so, panics with the
//! cycle spelled out (`dependency cycle: Orders -> Billing -> Orders`), at
//! the user's `depends_on` entry. A const panic is a compile error whose first
//! line is that message.
//!
//! The depth of a component ([`Component::DEPTH`](crate::Component::DEPTH))
//! is computed from its dependencies' depths, each read through
//! [`depth`] only when the component is not itself reported as being in a
//! cycle: every cycle has one component that reports it and stops there, so
//! rustc never meets a cyclic constant (its E0391) before our message.
//!
//! Only one member of a cycle reports it: the one with the smallest [`Node`]
//! key, a hash of its full path. Its search follows only nodes with larger
//! keys, which keeps every search short; a search that outgrows its fixed
//! buffers gives up, and then rustc's own cycle error is what remains.

use std::any::TypeId;

/// Longest cycle the check spells out (a longer one falls back to rustc's error).
const MAX_PATH: usize = 64;
/// Most nodes one search visits before it gives up.
const MAX_VISITED: usize = 256;
/// Room for the message; names that do not fit are cut with `...`.
const MAX_MESSAGE: usize = 512;

/// One component's place in the dependency graph, in a `static` the derive
/// generates.
#[doc(hidden)]
pub struct Node {
    name: &'static str,
    key: u64,
    type_id: fn() -> TypeId,
    dependencies: &'static [Link],
}

impl Node {
    /// `path` is the component's full path (`module_path!()` and its name),
    /// `name` its name as written.
    pub const fn new(
        path: &'static str,
        name: &'static str,
        type_id: fn() -> TypeId,
        dependencies: &'static [Link],
    ) -> Node {
        Node {
            name,
            key: fnv1a(path.as_bytes()),
            type_id,
            dependencies,
        }
    }
}

/// A pointer to a [`Node`]. Raw, because a constant holding a reference to a
/// static makes rustc evaluate that static first, and in a cyclic graph that
/// evaluation is the cycle this module is here to report.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Link(*const Node);

// SAFETY: a `Link` only ever points at an immutable `static Node`.
unsafe impl Sync for Link {}
// SAFETY: as above.
unsafe impl Send for Link {}

impl Link {
    /// A link to a component's node.
    pub const fn to(node: &'static Node) -> Link {
        Link(node)
    }

    const fn node(self) -> &'static Node {
        // SAFETY: built by `Link::to` from a `&'static Node`.
        unsafe { &*self.0 }
    }

    pub(crate) const fn name(self) -> &'static str {
        self.node().name
    }

    pub(crate) const fn type_id(self) -> fn() -> TypeId {
        self.node().type_id
    }
}

/// Component `Self` declared `depends_on = [T]`: the derive implements it
/// once per entry, and it is the only generated item that names `T` as a
/// component, so a `T` that is not one is reported once, right there.
#[doc(hidden)]
pub trait Edge<T: ?Sized> {
    /// `T`'s node.
    const NODE: Link;
    /// `T`'s depth.
    const DEPTH: usize;
}

/// `T`'s depth, as a dependency of `C`. A function, so that `T`'s depth is
/// evaluated only when this is called, not whenever `C`'s depth is.
pub const fn depth<C: Edge<T>, T: ?Sized>() -> usize {
    <C as Edge<T>>::DEPTH
}

/// Whether `node` is the member of some cycle that reports it; such a
/// component does not read its dependencies' depths.
pub const fn reports_cycle(node: &'static Node) -> bool {
    let mut i = 0;
    while i < node.dependencies.len() {
        if cycle(node, i).is_some() {
            return true;
        }
        i += 1;
    }
    false
}

/// The cycle that starts at `node` and goes on through its `first`
/// dependency, when `node` is the member that reports it.
pub const fn cycle(node: &'static Node, first: usize) -> Option<Message> {
    let root = node;
    let next = root.dependencies[first].node();
    if next.key == root.key {
        return Some(Message::cycle(&[root], 1));
    }
    if next.key < root.key {
        return None;
    }
    // Depth-first, with the path on a stack and finished nodes remembered.
    let mut path: [&'static Node; MAX_PATH] = [root; MAX_PATH];
    let mut next_dependency = [0usize; MAX_PATH];
    path[1] = next;
    let mut len = 2;
    let mut visited = [0u64; MAX_VISITED];
    let mut seen = 0;
    while len > 1 {
        let top = path[len - 1];
        let i = next_dependency[len - 1];
        if i == top.dependencies.len() {
            if seen == MAX_VISITED {
                return None;
            }
            visited[seen] = top.key;
            seen += 1;
            len -= 1;
            continue;
        }
        next_dependency[len - 1] += 1;
        let dependency = top.dependencies[i].node();
        if dependency.key == root.key {
            return Some(Message::cycle(&path, len));
        }
        if dependency.key < root.key
            || contains(&visited, seen, dependency.key)
            || on_path(&path, len, dependency.key)
            || len == MAX_PATH
        {
            continue;
        }
        path[len] = dependency;
        next_dependency[len] = 0;
        len += 1;
    }
    None
}

const fn contains(keys: &[u64], len: usize, key: u64) -> bool {
    let mut i = 0;
    while i < len {
        if keys[i] == key {
            return true;
        }
        i += 1;
    }
    false
}

const fn on_path(path: &[&'static Node], len: usize, key: u64) -> bool {
    let mut i = 0;
    while i < len {
        if path[i].key == key {
            return true;
        }
        i += 1;
    }
    false
}

/// A message built at compile time, for a const panic.
#[doc(hidden)]
pub struct Message {
    bytes: [u8; MAX_MESSAGE],
    len: usize,
}

impl Message {
    /// `dependency cycle: A -> B -> A` for the path `[A, B]`.
    const fn cycle(path: &[&'static Node], len: usize) -> Message {
        let mut message = Message {
            bytes: [0; MAX_MESSAGE],
            len: 0,
        };
        message = message.push("dependency cycle: ");
        let mut i = 0;
        while i < len {
            message = message.push(path[i].name).push(" -> ");
            i += 1;
        }
        message.push(path[0].name)
    }

    /// Appends `text` whole, or `...` once it no longer fits.
    const fn push(mut self, text: &str) -> Message {
        const CUT: &[u8] = b"...";
        let text = text.as_bytes();
        if self.len + text.len() + CUT.len() > MAX_MESSAGE {
            if !self.ends_with(CUT) && self.len + CUT.len() <= MAX_MESSAGE {
                self = self.push_bytes(CUT);
            }
            return self;
        }
        self.push_bytes(text)
    }

    const fn push_bytes(mut self, bytes: &[u8]) -> Message {
        let mut i = 0;
        while i < bytes.len() {
            self.bytes[self.len] = bytes[i];
            self.len += 1;
            i += 1;
        }
        self
    }

    const fn ends_with(&self, suffix: &[u8]) -> bool {
        if self.len < suffix.len() {
            return false;
        }
        let mut i = 0;
        while i < suffix.len() {
            if self.bytes[self.len - suffix.len() + i] != suffix[i] {
                return false;
            }
            i += 1;
        }
        true
    }

    /// The message; only whole names are written, so it is always UTF-8.
    pub const fn as_str(&self) -> &str {
        match std::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "dependency cycle",
        }
    }
}

/// FNV-1a: a stable hash, computable at compile time.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    struct A;
    struct B;
    struct C;
    static NODE_A: Node = Node::new("t::A", "A", TypeId::of::<A>, &[Link::to(&NODE_B)]);
    static NODE_B: Node = Node::new("t::B", "B", TypeId::of::<B>, &[Link::to(&NODE_C)]);
    static NODE_C: Node = Node::new("t::C", "C", TypeId::of::<C>, &[Link::to(&NODE_A)]);
    static LEAF: Node = Node::new("t::Leaf", "Leaf", TypeId::of::<()>, &[]);
    static TOP: Node = Node::new(
        "t::Top",
        "Top",
        TypeId::of::<u8>,
        &[Link::to(&LEAF), Link::to(&NODE_A)],
    );
    static SELF: Node = Node::new("t::Me", "Me", TypeId::of::<u16>, &[Link::to(&SELF)]);

    fn reported() -> Vec<String> {
        [&NODE_A, &NODE_B, &NODE_C, &TOP, &LEAF]
            .iter()
            .flat_map(|node| {
                (0..node.dependencies.len())
                    .filter_map(|i| cycle(node, i).map(|m| m.as_str().to_owned()))
            })
            .collect()
    }

    #[test]
    fn one_member_reports_a_cycle_in_order() {
        let reported = reported();
        assert_eq!(reported.len(), 1, "{reported:?}");
        let names = ["A -> B -> C -> A", "B -> C -> A -> B", "C -> A -> B -> C"];
        assert!(names
            .iter()
            .any(|n| reported[0] == format!("dependency cycle: {n}")));
        assert!(!reports_cycle(&TOP) && !reports_cycle(&LEAF));
    }

    #[test]
    fn a_component_depending_on_itself() {
        assert_eq!(
            cycle(&SELF, 0).map(|m| m.as_str().to_owned()).as_deref(),
            Some("dependency cycle: Me -> Me")
        );
    }

    #[test]
    fn long_names_are_cut_whole() {
        let long: &'static str = "X".repeat(300).leak();
        let node: &'static Node =
            Box::leak(Box::new(Node::new("t::X", long, TypeId::of::<i8>, &[])));
        let message = Message::cycle(&[node, node], 2);
        assert!(message.as_str().ends_with("..."), "{}", message.as_str());
        assert!(message.as_str().len() <= MAX_MESSAGE);
    }
}
