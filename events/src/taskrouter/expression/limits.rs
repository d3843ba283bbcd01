//! How large an expression may be: its text, its nesting and its number of comparisons, in
//! one place. The parser enforces them while it reads, so no input makes the parser, the
//! evaluator or the tree's `Drop` recurse without bound (the server is shared by every
//! tenant: one request with 5,000 nested parentheses used to overflow a worker thread's
//! stack and abort the process).
//!
//! Two sets: [`Limits::INPUT`] for what a request asks to store or filter by (refused with
//! a message naming the limit), and [`Limits::STORED`] for what a fold reads back from the
//! log, which an older build may have accepted: only the nesting, which is what the stack
//! needs, is bounded there, so a stored document never changes meaning with a newer build.

/// See the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest text, in bytes.
    pub length: usize,
    /// Deepest nesting of `(` and `[` together.
    pub depth: usize,
    /// Most comparisons (`a == 1` is one).
    pub terms: usize,
}

/// Longest expression a request may give: 64 KiB. A real `target_workers` or filter is a
/// line or two; 64 KiB is far above any hand-written one and keeps a 1 MB workflow document
/// from being one giant expression.
pub const MAX_LENGTH: usize = 64 * 1024;

/// Deepest nesting of parentheses and list brackets a request may give: 32. Hand-written
/// expressions rarely nest past 3; each level costs a few parser frames, so 32 is nowhere
/// near any thread's stack.
pub const MAX_DEPTH: usize = 32;

/// Most comparisons a request may give: 1,000. `AND`/`OR` chains are flat lists in the tree
/// (no depth), so this bounds evaluation time per worker: a queue's expression runs against
/// every worker on every routing decision.
pub const MAX_TERMS: usize = 1_000;

/// Deepest nesting a stored expression may have and still be read back: 128 (serde_json's
/// own nesting limit for documents). Well within a 2 MiB thread stack, and beyond anything
/// an older build could usefully have stored.
pub const MAX_STORED_DEPTH: usize = 128;

impl Limits {
    /// What a request may write or filter by.
    pub const INPUT: Limits = Limits {
        length: MAX_LENGTH,
        depth: MAX_DEPTH,
        terms: MAX_TERMS,
    };

    /// What a fold reads back from the log: only the nesting is bounded (for the stack).
    pub const STORED: Limits = Limits {
        length: usize::MAX,
        depth: MAX_STORED_DEPTH,
        terms: usize::MAX,
    };
}
