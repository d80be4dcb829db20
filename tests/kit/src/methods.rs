//! The Electrum method names, from the table the server exports
//! (`ferrumx::electrum::methods::TABLE`): tests that go over every method take them from
//! here rather than retyping the list (a new method is then covered at once). Tests that
//! check what each method answers name their methods themselves: those names are expected
//! values, not taken from the code under test.

/// Every method name the server serves (at some protocol version), each once, in the
/// table's order.
pub fn names() -> Vec<&'static str> {
    ferrumx::electrum::methods::table::names()
}
