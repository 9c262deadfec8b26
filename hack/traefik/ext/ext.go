// Package ext is where Traefik's dynamic configuration is extended; open-source builds extend
// nothing. Traefik's go.mod points it at a nested module the Go module proxy does not serve.
package ext

// HTTP is embedded in dynamic.HTTP.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
