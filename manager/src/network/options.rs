//! What a container asks of the network when it is made.

/// A container's network options as the user gave them (`plan` checks
/// and resolves them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetworkOptions {
    /// `--network`: bridge, host, none, container:NAME or a network's
    /// name (empty: the default).
    pub network: String,
    /// `--network host` given the old way (the spec's host network).
    pub host_network: bool,
    /// `-p` specs as the user wrote them.
    pub publish: Vec<String>,
    /// `-P`: publish every port the image exposes.
    pub publish_all: bool,
    pub network_aliases: Vec<String>,
    /// `--dns` servers.
    pub dns: Vec<String>,
    /// `--add-host` entries (HOST:IP).
    pub add_hosts: Vec<String>,
}
