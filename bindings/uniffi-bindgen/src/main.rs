//! `uniffi-bindgen`, pinned to the uniffi version of `journal-bindings`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
