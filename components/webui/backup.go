package webui

import (
	_ "embed"
	"fmt"

	batchv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/batch/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/llm-platform/llm-platform/internal/capacity"
	"github.com/llm-platform/llm-platform/internal/kube"
)

// BackupScript dumps the database and prunes old dumps; the CronJob runs it with the server's
// image (which has pg_dump of the same major version).
//
//go:embed backup.sh
var BackupScript string

const (
	backupSuffix = "-postgres-backup"
	backupDir    = "/backup"
	scriptDir    = "/scripts"
)

// BackupRequests are a backup Job's requests (the capacity check leaves room for it).
var BackupRequests = capacity.MustParse(backupCPURequest, backupMemoryRequest)

const backupCPURequest, backupMemoryRequest, backupMemoryLimit = "100m", "128Mi", "512Mi"

// BackupSelector selects the backup Jobs' pods of the UI whose objects are named name (the
// server's NetworkPolicy admits them).
func BackupSelector(name string) map[string]string {
	return kube.Selector("postgres-backup", name+backupSuffix)
}

// newBackup declares the dumps' volume and the CronJob that fills it: pg_dump as Open WebUI's
// role (it owns the database), on the schedule, one run at a time, outside the mesh like the
// server (a sidecar would keep the Job from ever completing).
func newBackup(ctx *pulumi.Context, name, objName, namespace string, cfg InClusterConfig, db *postgresServer, parent pulumi.ResourceOption) error {
	obj := objName + backupSuffix
	labels := kube.Labels("postgres-backup", obj, "backup")
	claim, err := corev1.NewPersistentVolumeClaim(ctx, name+backupSuffix, &corev1.PersistentVolumeClaimArgs{
		Metadata: kube.Meta(obj, namespace, labels),
		Spec:     kube.ClaimSpec("ReadWriteOnce", cfg.Backup.StorageSize, cfg.StorageClass),
	}, parent)
	if err != nil {
		return err
	}
	script, err := corev1.NewConfigMap(ctx, name+backupSuffix, &corev1.ConfigMapArgs{
		Metadata: kube.Meta(obj, namespace, labels),
		Data:     pulumi.StringMap{"backup.sh": pulumi.String(BackupScript)},
	}, parent)
	if err != nil {
		return err
	}
	podLabels := kube.Labels("postgres-backup", obj, "backup")
	podLabels[NoSidecarLabel] = "false"
	pod := &corev1.PodSpecArgs{
		RestartPolicy:                pulumi.String("OnFailure"),
		AutomountServiceAccountToken: pulumi.Bool(false),
		SecurityContext:              kube.NonRootPod(postgresUID),
		Containers: corev1.ContainerArray{&corev1.ContainerArgs{
			Name:    pulumi.String("pg-dump"),
			Image:   pulumi.String(cfg.Image),
			Command: pulumi.ToStringArray([]string{"sh", scriptDir + "/backup.sh"}),
			Env: corev1.EnvVarArray{
				plainEnv("PGHOST", db.Host),
				plainEnv("PGPORT", fmt.Sprint(PostgresPort)),
				plainEnv("PGUSER", PostgresRole),
				plainEnv("PGDATABASE", PostgresDatabase),
				secretEnv("PGPASSWORD", db.Password.Metadata.Name().Elem(), passwordKey),
				plainEnv("BACKUP_DIR", backupDir),
				plainEnv("KEEP", fmt.Sprint(cfg.Backup.Keep)),
			},
			SecurityContext: kube.NoEscalation(),
			Resources: &corev1.ResourceRequirementsArgs{
				Requests: pulumi.StringMap{"cpu": pulumi.String(backupCPURequest), "memory": pulumi.String(backupMemoryRequest)},
				Limits:   pulumi.StringMap{"memory": pulumi.String(backupMemoryLimit)},
			},
			VolumeMounts: corev1.VolumeMountArray{
				&corev1.VolumeMountArgs{Name: pulumi.String("backup"), MountPath: pulumi.String(backupDir)},
				&corev1.VolumeMountArgs{Name: pulumi.String("scripts"), MountPath: pulumi.String(scriptDir), ReadOnly: pulumi.Bool(true)},
			},
		}},
		Volumes: corev1.VolumeArray{
			&corev1.VolumeArgs{Name: pulumi.String("backup"), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: claim.Metadata.Name().Elem()}},
			&corev1.VolumeArgs{Name: pulumi.String("scripts"), ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: script.Metadata.Name().Elem()}},
		},
	}
	_, err = batchv1.NewCronJob(ctx, name+backupSuffix, &batchv1.CronJobArgs{
		Metadata: kube.Meta(obj, namespace, labels),
		Spec: &batchv1.CronJobSpecArgs{
			Schedule:                   pulumi.String(cfg.Backup.Schedule),
			ConcurrencyPolicy:          pulumi.String("Forbid"),
			SuccessfulJobsHistoryLimit: pulumi.Int(3),
			FailedJobsHistoryLimit:     pulumi.Int(3),
			JobTemplate: &batchv1.JobTemplateSpecArgs{
				Spec: &batchv1.JobSpecArgs{
					BackoffLimit:          pulumi.Int(2),
					ActiveDeadlineSeconds: pulumi.Int(3600),
					Template: &corev1.PodTemplateSpecArgs{
						Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(podLabels)},
						Spec:     pod,
					},
				},
			},
		},
	}, parent)
	return err
}
