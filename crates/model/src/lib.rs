pub fn lib_placeholder() {}
