//! The relay's commands besides `serve`, one module per command.

pub mod archive;
pub mod directory;

/// A spinner on a terminal, nothing otherwise.
pub fn spinner(message: String) -> indicatif::ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new_spinner()
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message(message);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}
