//! The compile-time dependency cycle check behind `#[derive(Component)]`.
//!
//! Each derive puts its component's place in the graph in a `static`
//! [`Node`]: its name and a [`Link`] to each dependency's node. Statics may
//! point at each other in a loop, so the nodes of a cyclic graph can be
//! built, and a `const fn` can walk them: each derive asks [`cycle`] whether
//! its component is in a cycle and, if so, a `const` item panics with the
//! cycle spelled out (`dependency cycle: Orders -> Billing -> Orders`) at the
//! user's `depends_on` entry. A const panic is a compile error whose first
//! line is that message.
//!
//! Only one member of a cycle reports it: the one with the smallest [`Node`]
//! key, a hash of its full path. Its search follows only nodes with larger
//! keys, which keeps every search short; a search that outgrows its fixed
//! buffers gives up, and then rustc's own cycle error (E0391) is what remains.
//!
//! The depth of a component ([`Component::DEPTH`](crate::Component::DEPTH))
//! is computed from its dependencies' depths, except by a component that
//! reports a cycle: evaluation stops there, so rustc never meets a cyclic
//! constant, and our message is the only one.
//!
//! The bounds, checked here (these examples are compiled by `cargo test`):
//! a cycle longer than the path buffer still does not compile, and a chain
//! longer than it is no cycle.
//!
//! ```compile_fail,E0391
//! # use lifecycle::{Component, Deps, Service};
//! # macro_rules! components {
//! #     ($($name:ident -> $next:ident),*) => {$(
//! #         #[derive(Component)]
//! #         #[component(depends_on = [$next])]
//! #         struct $name;
//! #         impl Service for $name {
//! #             async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//! #                 Ok($name)
//! #             }
//! #         }
//! #     )*};
//! # }
//! // 33 components in a ring: rustc's E0391, not our message.
//! components!(C0 -> C1, C1 -> C2, C2 -> C3, C3 -> C4, C4 -> C5, C5 -> C6, C6 -> C7, C7 -> C8, C8 -> C9, C9 -> C10, C10 -> C11, C11 -> C12, C12 -> C13, C13 -> C14, C14 -> C15, C15 -> C16, C16 -> C17, C17 -> C18, C18 -> C19, C19 -> C20, C20 -> C21, C21 -> C22, C22 -> C23, C23 -> C24, C24 -> C25, C25 -> C26, C26 -> C27, C27 -> C28, C28 -> C29, C29 -> C30, C30 -> C31, C31 -> C32, C32 -> C0);
//! # fn main() {}
//! ```
//!
//! ```
//! # use lifecycle::{Component, Deps, Service};
//! # macro_rules! components {
//! #     ($($name:ident -> $next:ident),*) => {$(
//! #         #[derive(Component)]
//! #         #[component(depends_on = [$next])]
//! #         struct $name;
//! #         impl Service for $name {
//! #             async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//! #                 Ok($name)
//! #             }
//! #         }
//! #     )*};
//! # }
//! # #[derive(Component)]
//! # struct L40;
//! # impl Service for L40 {
//! #     async fn init(_deps: Deps<'_, Self>) -> lifecycle::Result<Self> {
//! #         Ok(L40)
//! #     }
//! # }
//! // A chain of 41 components: compiles, 40 levels deep.
//! components!(L0 -> L1, L1 -> L2, L2 -> L3, L3 -> L4, L4 -> L5, L5 -> L6, L6 -> L7, L7 -> L8, L8 -> L9, L9 -> L10, L10 -> L11, L11 -> L12, L12 -> L13, L13 -> L14, L14 -> L15, L15 -> L16, L16 -> L17, L17 -> L18, L18 -> L19, L19 -> L20, L20 -> L21, L21 -> L22, L22 -> L23, L23 -> L24, L24 -> L25, L25 -> L26, L26 -> L27, L27 -> L28, L28 -> L29, L29 -> L30, L30 -> L31, L31 -> L32, L32 -> L33, L33 -> L34, L34 -> L35, L35 -> L36, L36 -> L37, L37 -> L38, L38 -> L39, L39 -> L40);
//! const _: () = assert!(<L0 as Component>::DEPTH == 40);
//! # fn main() {}
//! ```

use std::any::TypeId;

/// Longest cycle the check spells out (a longer one falls back to rustc's error).
const MAX_PATH: usize = 32;
/// Most nodes one search enters before it gives up.
const MAX_SEARCHED: usize = 256;
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

/// If `root` is in a cycle and is the member that reports it: which of its
/// dependencies the cycle goes through.
pub const fn cycle(root: &'static Node) -> Option<usize> {
    match search(root) {
        Some(found) => Some(found.through),
        None => None,
    }
}

/// `dependency cycle: A -> B -> A`, for the cycle [`cycle`] found.
pub const fn cycle_message(root: &'static Node) -> Message {
    match search(root) {
        Some(found) => Message::cycle(&found.path, found.len),
        None => Message::cycle(&[root], 0),
    }
}

/// A cycle: `path[..len]`, back to `path[0]`, through `path[0]`'s
/// dependency number `through`.
struct Found {
    path: [&'static Node; MAX_PATH],
    len: usize,
    through: usize,
}

/// The first cycle that goes through `root`, if `root` is the member that
/// reports it (the one with the smallest key): a depth-first search from
/// `root` that follows only larger keys and enters each node once, with the
/// path on a stack.
const fn search(root: &'static Node) -> Option<Found> {
    let mut path: [&'static Node; MAX_PATH] = [root; MAX_PATH];
    let mut next_dependency = [0usize; MAX_PATH];
    let mut len = 1;
    let mut entered = Keys::new();
    while len > 0 {
        let top = path[len - 1];
        let i = next_dependency[len - 1];
        if i == top.dependencies.len() {
            len -= 1;
            continue;
        }
        next_dependency[len - 1] += 1;
        let dependency = top.dependencies[i].node();
        if dependency.key == root.key {
            return Some(Found {
                path,
                len,
                through: next_dependency[0] - 1,
            });
        }
        if dependency.key < root.key || len == MAX_PATH {
            continue;
        }
        match entered.insert(dependency.key) {
            Inserted::New => {}
            Inserted::Already => continue,
            Inserted::Full => return None,
        }
        path[len] = dependency;
        next_dependency[len] = 0;
        len += 1;
    }
    None
}

/// A set of node keys: open addressing in a fixed table, kept at most half
/// full.
struct Keys {
    slots: [u64; 2 * MAX_SEARCHED],
    len: usize,
}

enum Inserted {
    New,
    Already,
    Full,
}

impl Keys {
    const fn new() -> Keys {
        Keys {
            slots: [0; 2 * MAX_SEARCHED],
            len: 0,
        }
    }

    /// Keys are hashes already; 0 marks an empty slot (a node whose key is
    /// 0 is entered again each time, which costs time, not correctness).
    const fn insert(&mut self, key: u64) -> Inserted {
        if key == 0 {
            return Inserted::New;
        }
        let mut slot = (key % (2 * MAX_SEARCHED) as u64) as usize;
        loop {
            if self.slots[slot] == key {
                return Inserted::Already;
            }
            if self.slots[slot] == 0 {
                if self.len == MAX_SEARCHED {
                    return Inserted::Full;
                }
                self.slots[slot] = key;
                self.len += 1;
                return Inserted::New;
            }
            slot = (slot + 1) % (2 * MAX_SEARCHED);
        }
    }
}

/// A message built at compile time, for a const panic.
#[doc(hidden)]
pub struct Message {
    bytes: [u8; MAX_MESSAGE],
    len: usize,
}

/// The message's second line, for a longer cycle.
const HINT: &str =
    "\ncomponents cannot depend on each other in a loop: remove one of these `depends_on` entries";
/// The message's second line, for a component that depends on itself (no
/// longer than [`HINT`], for which room is kept).
const HINT_SELF: &str = "\na component cannot depend on itself: remove this `depends_on` entry";

impl Message {
    /// `dependency cycle: A -> B -> A` for the path `[A, B]`, and [`HINT`].
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
        let hint = if len == 1 { HINT_SELF } else { HINT };
        message.push(path[0].name).push_bytes(hint.as_bytes())
    }

    /// Appends `text` whole, or `...` once it no longer fits (leaving room
    /// for [`HINT`]).
    const fn push(mut self, text: &str) -> Message {
        const CUT: &[u8] = b"...";
        const ROOM: usize = MAX_MESSAGE - HINT.len();
        let text = text.as_bytes();
        if self.len + text.len() + CUT.len() > ROOM {
            if !self.ends_with(CUT) && self.len + CUT.len() <= ROOM {
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

    static DIAMOND: Node = Node::new(
        "t::Diamond",
        "Diamond",
        TypeId::of::<u32>,
        &[Link::to(&LEFT), Link::to(&RIGHT)],
    );
    static LEFT: Node = Node::new("t::Left", "Left", TypeId::of::<u64>, &[Link::to(&LEAF)]);
    static RIGHT: Node = Node::new("t::Right", "Right", TypeId::of::<i64>, &[Link::to(&LEAF)]);

    #[test]
    fn a_shared_dependency_is_no_cycle() {
        for node in [&DIAMOND, &LEFT, &RIGHT, &LEAF] {
            assert_eq!(cycle(node), None, "{}", node.name);
        }
    }

    fn reported() -> Vec<String> {
        [&NODE_A, &NODE_B, &NODE_C, &TOP, &LEAF]
            .iter()
            .filter(|node| cycle(node).is_some())
            .map(|node| cycle_message(node).as_str().to_owned())
            .collect()
    }

    #[test]
    fn one_member_reports_a_cycle_in_order() {
        let reported = reported();
        assert_eq!(reported.len(), 1, "{reported:?}");
        let names = ["A -> B -> C -> A", "B -> C -> A -> B", "C -> A -> B -> C"];
        assert!(names
            .iter()
            .any(|n| reported[0] == format!("dependency cycle: {n}{HINT}")));
        assert!(cycle(&TOP).is_none() && cycle(&LEAF).is_none());
    }

    #[test]
    fn a_component_depending_on_itself() {
        assert_eq!(cycle(&SELF), Some(0));
        assert_eq!(
            cycle_message(&SELF).as_str(),
            format!("dependency cycle: Me -> Me{HINT_SELF}")
        );
    }

    #[test]
    fn long_names_are_cut_whole() {
        let long: &'static str = "X".repeat(300).leak();
        let node: &'static Node =
            Box::leak(Box::new(Node::new("t::X", long, TypeId::of::<i8>, &[])));
        let message = Message::cycle(&[node, node], 2);
        assert!(message.as_str().contains("...\n"), "{}", message.as_str());
        assert!(message.as_str().len() <= MAX_MESSAGE);
    }
}
