package main

// gatewayTargets are the gateway rendered by components/gateway/nginx with each routing
// strategy. TODO(routing): wired once the gateway's strategies land (branch routing).
func gatewayTargets(config) []target { return nil }
