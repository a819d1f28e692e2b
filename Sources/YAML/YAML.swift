// A small document layer over libyaml.
