import Testing

/// libinotifytools keeps one global watch table per process, so the tests that start a
/// watcher (the watcher's own, and the daemon's) run one after another.
@Suite(.serialized) enum InotifyUsers {}
