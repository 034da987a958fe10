package stacks

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/components/platform"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// cluster is what the cloud step hands to the application layer.
type cluster struct {
	provider     *kubernetes.Provider
	nodeSelector map[string]string // places GPU models
	name         pulumi.StringOutput
	kubeconfig   pulumi.StringOutput // secret; zero for the existing cloud
	// lbController installs the AWS Load Balancer Controller (EKS); nil: not installed.
	lbController *platform.LBControllerArgs
}

// newCluster provisions (or adopts) the cloud's cluster and returns one
// Kubernetes provider every component uses. In render mode nothing is
// provisioned: the provider writes YAML to render.dir instead.
func newCluster(ctx *pulumi.Context, cfg spec.Config) (*cluster, error) {
	c := &cluster{nodeSelector: modelNodeSelector(cfg)}
	args := &kubernetes.ProviderArgs{
		// Without it the provider replaces a ConfigMap whose data changes, and the gateway
		// Deployment that mounts it by name is replaced with it: every gateway pod deleted at
		// once when a model is added or removed. Updated in place, the config checksum on the
		// pod template rolls the pods one at a time instead.
		EnableConfigMapMutable: pulumi.Bool(true),
	}
	switch {
	case cfg.Render.Dir != "":
		// No kubeconfig: the provider refuses both at once.
		args.RenderYamlToDirectory = pulumi.String(cfg.Render.Dir)
		c.name = pulumi.String("rendered").ToStringOutput()
	case cfg.Cloud == spec.CloudGKE:
		g, err := gke.New(ctx, "gke", gke.Args{Config: cfg.GKE})
		if err != nil {
			return nil, err
		}
		c.name, c.kubeconfig = g.ClusterName, g.Kubeconfig
		args.Kubeconfig = g.Kubeconfig
	case cfg.Cloud == spec.CloudEKS:
		settings, err := awsSettings(ctx)
		if err != nil {
			return nil, err
		}
		e, err := eks.New(ctx, "eks", eks.Args{Config: cfg.EKS, AWS: settings})
		if err != nil {
			return nil, err
		}
		c.name, c.kubeconfig = e.ClusterName, e.Kubeconfig
		args.Kubeconfig = e.Kubeconfig
		if id := e.LBController; id != nil {
			c.lbController = &platform.LBControllerArgs{
				ClusterName:    e.ClusterName,
				Region:         cfg.EKS.Region,
				VpcID:          e.VpcID,
				Namespace:      id.Namespace,
				ServiceAccount: id.ServiceAccount,
				DefaultTags:    settings.DefaultTags,
				DependsOn:      id.Ready,
			}
		}
	default:
		// The existing cloud: the user's kubeconfig (current context unless
		// told otherwise).
		if cfg.Existing.Kubeconfig != "" {
			args.Kubeconfig = pulumi.String(cfg.Existing.Kubeconfig)
		}
		if cfg.Existing.Context != "" {
			args.Context = pulumi.String(cfg.Existing.Context)
		}
		name := cfg.Existing.Context
		if name == "" {
			name = "current-context"
		}
		c.name = pulumi.String(name).ToStringOutput()
	}
	p, err := kubernetes.NewProvider(ctx, "cluster", args)
	if err != nil {
		return nil, err
	}
	c.provider = p
	// Only where eks.defaultStorageClass resolves on (by default: clusters
	// this stack creates): an adopted cluster has its own default class, and
	// a second default would take over every claim without a class.
	if cfg.Cloud == spec.CloudEKS && cfg.EKS.ForCreatedClusters(cfg.EKS.DefaultStorageClass) {
		if err := gp3StorageClass(ctx, p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// modelNodeSelector is where GPU models run on each cloud: GKE labels GPU
// nodes with their accelerator type, the EKS component labels its GPU node
// group, and on an existing cluster the stack says.
func modelNodeSelector(cfg spec.Config) map[string]string {
	switch cfg.Cloud {
	case spec.CloudGKE:
		return map[string]string{gke.AcceleratorLabel: cfg.GKE.GPUPool.AcceleratorType}
	case spec.CloudEKS:
		return map[string]string{eks.GPUNodeLabel: "true"}
	}
	return cfg.Existing.NodeSelector
}

// gp3StorageClass is the default class on EKS: the EBS CSI driver's gp3,
// bound when the pod is scheduled so the volume lands in the pod's zone.
func gp3StorageClass(ctx *pulumi.Context, p *kubernetes.Provider) error {
	_, err := storagev1.NewStorageClass(ctx, "gp3", &storagev1.StorageClassArgs{
		Metadata: &metav1.ObjectMetaArgs{
			Name:        pulumi.String("gp3"),
			Labels:      pulumi.ToStringMap(kube.Labels("gp3", "gp3", "storage")),
			Annotations: pulumi.StringMap{"storageclass.kubernetes.io/is-default-class": pulumi.String("true")},
		},
		Provisioner:          pulumi.String("ebs.csi.aws.com"),
		VolumeBindingMode:    pulumi.String("WaitForFirstConsumer"),
		AllowVolumeExpansion: pulumi.Bool(true),
		Parameters:           pulumi.StringMap{"type": pulumi.String("gp3"), "encrypted": pulumi.String("true")},
	}, pulumi.Provider(p))
	return err
}

// awsSettings reads the stack's `aws:` provider config that the EKS
// component's explicit provider and kubeconfig must carry on: without them an
// explicit provider falls back to the ambient credentials and drops default
// tags. Malformed values fail with the key that holds them.
func awsSettings(ctx *pulumi.Context) (eks.AWSSettings, error) {
	c := config.New(ctx, "aws")
	s := eks.AWSSettings{Profile: c.Get("profile")}
	var errs []error
	object := func(key, example string, out any) bool {
		err := c.TryObject(key, out)
		if err != nil && !errors.Is(err, config.ErrMissingVar) {
			errs = append(errs, fmt.Errorf("aws:%s: %v; set it like %s", key, err, example))
		}
		return err == nil
	}
	var role struct {
		RoleARN     string `json:"roleArn"`
		ExternalID  string `json:"externalId"`
		SessionName string `json:"sessionName"`
		Duration    string `json:"duration"`
	}
	if object("assumeRole", `{"roleArn": "arn:aws:iam::111122223333:role/deployer"}`, &role) {
		if role.RoleARN == "" {
			errs = append(errs, errors.New("aws:assumeRole.roleArn: is required; name the role Pulumi deploys as"))
		}
		s.AssumeRole = &eks.AssumeRole{RoleARN: role.RoleARN, ExternalID: role.ExternalID, SessionName: role.SessionName, Duration: role.Duration}
	}
	var tags struct {
		Tags map[string]string `json:"tags"`
	}
	if object("defaultTags", `{"tags": {"team": "ml"}}`, &tags) {
		s.DefaultTags = tags.Tags
	}
	object("sharedCredentialsFiles", `["~/.aws/credentials"]`, &s.SharedCredentialsFiles)
	object("sharedConfigFiles", `["~/.aws/config"]`, &s.SharedConfigFiles)
	return s, errors.Join(errs...)
}
