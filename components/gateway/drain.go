// How a gateway pod stops without cutting a stream: the preStop hook and the grace period.

package gateway

import (
	"fmt"
	"strings"

	"github.com/llm-platform/llm-platform/components/gateway/nginx"
)

const (
	// PreStopSleepSeconds is how long a terminating pod keeps accepting
	// before nginx stops listening: the time for its endpoint's removal to
	// reach kube-proxy and the ingress, so no new request is sent to a
	// socket that is about to close.
	PreStopSleepSeconds = 10
	// DrainMarginSeconds covers nginx's exit after its last stream and the
	// kubelet's own bookkeeping.
	DrainMarginSeconds = 5
)

// TerminationGracePeriodSeconds is how long a gateway pod may take to stop:
// the preStop sleep (endpoint removal reaches the ingress), then nginx's
// graceful quit, which waits for the longest generation (the proxy timeout,
// timeoutSeconds), then a margin. The kubelet kills whatever is left after
// it, so it must cover all three.
func TerminationGracePeriodSeconds(timeoutSeconds int) int {
	return PreStopSleepSeconds + timeoutSeconds + DrainMarginSeconds
}

// PreStopCommand is the container's preStop hook: keep serving while the
// endpoint removal propagates, then ask nginx for a graceful quit (stop
// listening, let every stream finish, exit), and wait for it, so the
// kubelet's stop signal finds nginx gone. Kubernetes' default stop signal,
// SIGTERM, is nginx's fast shutdown, which would cut every stream; the
// openresty images declare STOPSIGNAL SIGQUIT, but the hook does not rely
// on the image.
func PreStopCommand() []string {
	rt := nginx.ProductionRuntime(configDir)
	return []string{"/bin/sh", "-c", fmt.Sprintf("sleep %d; %s; while [ -e %s ]; do sleep 1; done",
		PreStopSleepSeconds, shellJoin(nginx.QuitCommand(nginx.OpenRestyBinary, rt)), shellQuote(nginx.PidFile(rt)))}
}

func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
