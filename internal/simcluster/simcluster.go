package simcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/testcluster"
)

// Shape is what a simulated cluster holds before the platform is deployed. A stack's shape is its
// caller's to give (the tests build it from stacks.NodePools, NodeOverhead and AddOnPods): this
// package stays below the program it runs, and imports none of it.
type Shape struct {
	// Nodes are registered as they are (see Nodes, DevNode).
	Nodes []corev1.Node
	// PerNode is what runs on every node besides the platform (the clouds' DaemonSets and the
	// add-ons'); a DaemonSet of placeholders requests it on each node, GPU nodes included.
	PerNode capacity.Resources
	// AddOns are the system pool's other pods (cluster DNS, istiod, the ingress gateways, ...);
	// each group becomes a Deployment of placeholders with its requests.
	AddOns []capacity.Pods
	// Volumes is how many PersistentVolumes to provide for the claims (see Storage).
	Volumes int
}

// DefaultVolumes is enough PersistentVolumes for every claim a test makes (each model replica
// and Open WebUI take one; a deleted claim's volume is not reused).
const DefaultVolumes = 40

// StorageClassName is the simulated cluster's default StorageClass.
const StorageClassName = "sim-standard"

// overheadNamespace holds the placeholders for the clouds' and add-ons' pods.
const overheadNamespace = "kube-system"

// placeholderImage is never pulled: no container runs in a simulated cluster.
const placeholderImage = "registry.k8s.io/pause:3.10"

// OverheadNamespace holds the placeholders for the clouds' and add-ons' pods.
const OverheadNamespace = overheadNamespace

// Setup registers the shape in the cluster and waits until every node is Ready. The
// placeholder pods are created, not awaited: on pools too small for them some stay Pending
// (WaitPodsReady(OverheadNamespace) waits for them where they must fit).
func Setup(ctx context.Context, c *testcluster.Cluster, s Shape) error {
	for i := range s.Nodes {
		if err := Create(ctx, c, "/api/v1/nodes", &s.Nodes[i]); err != nil {
			return err
		}
	}
	if err := Storage(ctx, c, s.Volumes); err != nil {
		return err
	}
	if err := WaitNodesReady(ctx, c, len(s.Nodes), 2*time.Minute); err != nil {
		return err
	}
	if s.PerNode != (capacity.Resources{}) {
		ds := appsv1.DaemonSet{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
			ObjectMeta: metav1.ObjectMeta{Name: "node-agents", Namespace: overheadNamespace},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "node-agents"}},
				Template: placeholderPod("node-agents", s.PerNode,
					// Like kube-proxy and the CNI agents: on every node, whatever its taints.
					corev1.Toleration{Operator: corev1.TolerationOpExists}),
			},
		}
		if err := Create(ctx, c, "/apis/apps/v1/namespaces/"+overheadNamespace+"/daemonsets", &ds); err != nil {
			return err
		}
	}
	for _, p := range s.AddOns {
		name := kubeName(p.Name)
		replicas := int32(p.Count)
		d := appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: overheadNamespace},
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: placeholderPod(name, p.Requests),
			},
		}
		if err := Create(ctx, c, "/apis/apps/v1/namespaces/"+overheadNamespace+"/deployments", &d); err != nil {
			return err
		}
	}
	return nil
}

func placeholderPod(name string, r capacity.Resources, tolerations ...corev1.Toleration) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			Tolerations: tolerations,
			Containers: []corev1.Container{{
				Name: "placeholder", Image: placeholderImage,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    *resource.NewMilliQuantity(r.MilliCPU, resource.DecimalSI),
					corev1.ResourceMemory: *resource.NewQuantity(r.Memory, resource.BinarySI),
				}},
			}},
		},
	}
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

// kubeName turns "the Istio ingress gateway" into "the-istio-ingress-gateway".
func kubeName(s string) string {
	n := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if len(n) > 60 {
		n = strings.TrimRight(n[:60], "-")
	}
	return n
}

// Storage makes claims bindable without a provisioner: a default StorageClass with
// WaitForFirstConsumer binding (as the clouds' gp3 and pd classes) and no provisioner, and n
// pre-made 1Ti PersistentVolumes of that class, usable on any node. The scheduler binds a
// pod's claim to one of them when it places the pod, as it does for local volumes; without one
// left, the pod stays Pending with the scheduler's reason.
func Storage(ctx context.Context, c *testcluster.Cluster, n int) error {
	wait := storagev1.VolumeBindingWaitForFirstConsumer
	sc := storagev1.StorageClass{
		TypeMeta: metav1.TypeMeta{APIVersion: "storage.k8s.io/v1", Kind: "StorageClass"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        StorageClassName,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       "kubernetes.io/no-provisioner",
		VolumeBindingMode: &wait,
	}
	if err := Create(ctx, c, "/apis/storage.k8s.io/v1/storageclasses", &sc); err != nil {
		return err
	}
	for i := range n {
		pv := corev1.PersistentVolume{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("sim-pv-%02d", i)},
			Spec: corev1.PersistentVolumeSpec{
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Ti")},
				// ReadWriteMany too: Open WebUI's replicas share one data claim.
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadWriteMany},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              StorageClassName,
				PersistentVolumeSource: corev1.PersistentVolumeSource{
					HostPath: &corev1.HostPathVolumeSource{Path: fmt.Sprintf("/var/sim-pv-%02d", i)},
				},
			},
		}
		if err := Create(ctx, c, "/api/v1/persistentvolumes", &pv); err != nil {
			return err
		}
	}
	return nil
}

// Create POSTs obj to path and expects 201.
func Create(ctx context.Context, c *testcluster.Cluster, path string, obj any) error {
	body, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	status, out, err := c.Do(ctx, http.MethodPost, path, body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST %s: %d %s", path, status, out)
	}
	return nil
}

// WaitNodesReady waits until n Nodes report Ready (kwok's node-initialize stage).
func WaitNodesReady(ctx context.Context, c *testcluster.Cluster, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var list corev1.NodeList
		if _, err := c.Get(ctx, "/api/v1/nodes", &list); err != nil {
			return err
		}
		ready := 0
		for _, node := range list.Items {
			if NodeReady(node) {
				ready++
			}
		}
		if ready >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes Ready after %s", ready, n, timeout)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// NodeReady reports the node's Ready condition.
func NodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitPodsReady waits until the namespace has pods and every one is Ready.
func WaitPodsReady(ctx context.Context, c *testcluster.Cluster, namespace string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pods, err := Pods(ctx, c, namespace, "")
		if err != nil {
			return err
		}
		var waiting []string
		for _, p := range pods {
			if !PodReady(p) {
				waiting = append(waiting, p.Name+" ("+PendingReason(p)+")")
			}
		}
		if len(pods) > 0 && len(waiting) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: pods not Ready after %s: %s", namespace, timeout, strings.Join(waiting, "; "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Pods lists a namespace's pods ("" = every namespace), optionally by label selector.
func Pods(ctx context.Context, c *testcluster.Cluster, namespace, selector string) ([]corev1.Pod, error) {
	path := "/api/v1/pods"
	if namespace != "" {
		path = "/api/v1/namespaces/" + namespace + "/pods"
	}
	if selector != "" {
		path += "?labelSelector=" + selector
	}
	var list corev1.PodList
	if _, err := c.Get(ctx, path, &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// PodReady reports the pod's Ready condition.
func PodReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PendingReason is the scheduler's message for a pod it could not place ("0/5 nodes are
// available: 3 Insufficient nvidia.com/gpu, ..."), or the pod's phase.
func PendingReason(p corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Message
		}
	}
	return string(p.Status.Phase)
}
