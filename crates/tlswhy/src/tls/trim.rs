//! Lists kept while a connection waits for its verdict are copied to allocations of
//! their exact size.

/// Moves `list` to an allocation of its exact size. `Vec::shrink_to_fit` is not
/// enough: allocators keep a block in place when it shrinks by less than half, and a
/// list grown by doubling never does.
pub fn trim<T: Clone>(list: &mut Vec<T>) {
    if list.capacity() > list.len() {
        *list = list.as_slice().to_vec();
    }
}
