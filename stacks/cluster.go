package stacks

import (
	"errors"
	"fmt"
	"maps"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	storagev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/storage/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/llm-platform/llm-platform/components/addons"
	"github.com/llm-platform/llm-platform/components/cluster"
	"github.com/llm-platform/llm-platform/components/eks"
	"github.com/llm-platform/llm-platform/components/gke"
	"github.com/llm-platform/llm-platform/internal/kube"
	"github.com/llm-platform/llm-platform/stacks/spec"
)

// CloudAddOns are the add-ons whose cloud side (an identity) the cloud component created and
// whose chart the platform installs: on EKS the AWS Load Balancer Controller and the Cluster
// Autoscaler. Each is nil when not installed.
type CloudAddOns struct {
	LBController      *addons.LBControllerArgs
	ClusterAutoscaler *addons.ClusterAutoscalerArgs
	// WebUIDatabaseURL is the URL (secret) of the PostgreSQL instance the cloud created for Open
	// WebUI (webui.database.kind managed); zero otherwise.
	WebUIDatabaseURL pulumi.StringOutput
	// LimitsRedis is the Redis instance the cloud created for the tenants' limits
	// (tenancy.redis.kind managed); nil otherwise.
	LimitsRedis *ManagedRedis
}

// newCluster provisions (or adopts) the cloud's cluster and returns it with one Kubernetes
// provider every component uses, plus the cloud's add-ons (none outside EKS). In render mode
// nothing is provisioned: the provider writes YAML to render.dir instead.
func newCluster(ctx *pulumi.Context, cfg spec.Config) (*cluster.Cluster, CloudAddOns, error) {
	var c *cluster.Cluster
	var addOns CloudAddOns
	var err error
	switch {
	case cfg.Render.Dir != "":
		c, err = cluster.New(ctx, providerName, cluster.Args{
			Name: pulumi.String("rendered"), RenderDir: cfg.Render.Dir, GPUNodeSelector: modelNodeSelector(cfg),
		})
	case cfg.Cloud == spec.CloudGKE:
		c, addOns, err = newGKE(ctx, cfg)
	case cfg.Cloud == spec.CloudEKS:
		c, addOns, err = newEKS(ctx, cfg)
	default:
		c, err = existingCluster(ctx, cfg)
	}
	if err != nil {
		return nil, addOns, err
	}
	// Only where eks.defaultStorageClass resolves on (by default: clusters
	// this stack creates): an adopted cluster has its own default class, and
	// a second default would take over every claim without a class.
	if cfg.Cloud == spec.CloudEKS && cfg.EKS.ForCreatedClusters(cfg.EKS.DefaultStorageClass) {
		if err := gp3StorageClass(ctx, c.Provider); err != nil {
			return nil, addOns, err
		}
	}
	return c, addOns, nil
}

// existingCluster is the existing cloud: the user's kubeconfig (current context unless told
// otherwise).
func existingCluster(ctx *pulumi.Context, cfg spec.Config) (*cluster.Cluster, error) {
	args := cluster.Args{GPUNodeSelector: modelNodeSelector(cfg)}
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
	args.Name = pulumi.String(name)
	return cluster.New(ctx, providerName, args)
}

// newEKS creates or adopts the EKS cluster, with the AWS side of the add-ons the platform
// installs, and Open WebUI's RDS instance and the tenants' limits ElastiCache when the stack
// asks for them.
func newEKS(ctx *pulumi.Context, cfg spec.Config) (*cluster.Cluster, CloudAddOns, error) {
	settings, err := awsSettings(ctx)
	if err != nil {
		return nil, CloudAddOns{}, err
	}
	e, err := eks.New(ctx, "eks", eks.Args{
		Config: cfg.EKS, AWS: settings, ObjectReaders: eksReaders(cfg),
		ClusterAutoscaler: installsClusterAutoscaler(cfg),
		// An adopted cluster's own autoscaler needs the tags as much as ours.
		ScaleFromZero: cfg.Autoscales(),
		// Only a model that goes to zero needs its node back from zero in its claim's zone.
		OneGPUZone: cfg.ScalesToZero(),
	})
	if err != nil {
		return nil, CloudAddOns{}, err
	}
	addOns := eksAddOns(cfg, settings, e)
	if addOns.WebUIDatabaseURL, err = managedDatabase(ctx, cfg, nil, e); err != nil {
		return nil, addOns, err
	}
	if addOns.LimitsRedis, err = managedRedis(ctx, cfg, nil, e); err != nil {
		return nil, addOns, err
	}
	c, err := e.Cluster(ctx, providerName)
	return c, addOns, err
}

// eksAddOns hands the identities the EKS component created to the charts the platform
// installs.
func eksAddOns(cfg spec.Config, settings eks.AWSSettings, e *eks.EKS) CloudAddOns {
	var addOns CloudAddOns
	if id := e.LBController; id != nil {
		addOns.LBController = &addons.LBControllerArgs{
			ClusterName:    e.ClusterName,
			Region:         cfg.EKS.Region,
			VpcID:          e.VpcID,
			Namespace:      id.Namespace,
			ServiceAccount: id.ServiceAccount,
			DefaultTags:    settings.DefaultTags,
			DependsOn:      id.Ready,
		}
	}
	if id := e.ClusterAutoscaler; id != nil {
		addOns.ClusterAutoscaler = &addons.ClusterAutoscalerArgs{
			ClusterName:    e.ClusterName,
			Region:         cfg.EKS.Region,
			Namespace:      id.Namespace,
			ServiceAccount: id.ServiceAccount,
			DependsOn:      id.Ready,
		}
	}
	return addOns
}

// newGKE creates or adopts the GKE cluster, and in its VPC Open WebUI's Cloud SQL and the
// tenants' limits Memorystore when the stack asks for them.
func newGKE(ctx *pulumi.Context, cfg spec.Config) (*cluster.Cluster, CloudAddOns, error) {
	var addOns CloudAddOns
	g, err := gke.New(ctx, "gke", gke.Args{Config: cfg.GKE, ObjectReaders: gkeReaders(cfg), ControlPlanePorts: controlPlanePorts(cfg)})
	if err != nil {
		return nil, addOns, err
	}
	if addOns.WebUIDatabaseURL, err = managedDatabase(ctx, cfg, g, nil); err != nil {
		return nil, addOns, err
	}
	if addOns.LimitsRedis, err = managedRedis(ctx, cfg, g, nil); err != nil {
		return nil, addOns, err
	}
	c, err := g.Cluster(ctx, providerName)
	return c, addOns, err
}

// installsClusterAutoscaler resolves eks.clusterAutoscaler: as set, or (null) on when the stack
// creates the EKS cluster and some model autoscales. An adopted cluster usually runs its own
// autoscaler (two would fight over the same groups); with auto-discovery it finds the GPU node
// group by the tags EKS puts on it, and scales it from zero by the ones eks.New adds.
func installsClusterAutoscaler(cfg spec.Config) bool {
	if cfg.Cloud != spec.CloudEKS {
		return false
	}
	if on := cfg.EKS.ClusterAutoscaler; on != nil {
		return *on
	}
	return cfg.EKS.Cluster.Create && cfg.Autoscales()
}

// providerName is the Pulumi name of the cluster's Kubernetes provider.
const providerName = "cluster"

// modelNodeSelector is where GPU models run on each cloud: GKE labels GPU
// nodes with their accelerator type, the EKS component labels its GPU node
// group, and on an existing cluster the stack says.
func modelNodeSelector(cfg spec.Config) map[string]string {
	switch cfg.Cloud {
	case spec.CloudGKE:
		return map[string]string{gke.AcceleratorLabel: cfg.GKE.GPUPool.AcceleratorType}
	case spec.CloudEKS:
		return maps.Clone(eks.GPUNodeSelector)
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
