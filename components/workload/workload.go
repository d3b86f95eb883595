package workload

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	autoscalingv2 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/autoscaling/v2"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	k8scorev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"

	"github.com/bulwark-platform/bulwark/components/component"
	"github.com/bulwark-platform/bulwark/components/kobject"
	"github.com/bulwark-platform/bulwark/internal/kinds"
	"github.com/bulwark-platform/bulwark/internal/naming"
)

// ServiceDeployment is one platform service and everything that keeps it
// running safely.
type ServiceDeployment struct {
	pulumi.ResourceState

	Namespace      pulumi.StringOutput
	Deployment     pulumi.StringOutput
	Service        pulumi.StringOutput
	ServiceAccount pulumi.StringOutput
	PDB            pulumi.StringOutput
	HPA            pulumi.StringOutput
	VPA            pulumi.StringOutput
}

// New registers a ServiceDeployment.
func New(ctx *pulumi.Context, name string, args *Args, opts ...pulumi.ResourceOption) (*ServiceDeployment, error) {
	c := &ServiceDeployment{}
	a, err := component.Begin(ctx, c, Token, name, args, (*Args).withDefaults, (*Args).validate, opts...)
	if err != nil {
		return nil, err
	}
	if err := c.build(ctx, name, a); err != nil {
		return nil, fmt.Errorf("workload %s: %w", name, err)
	}
	if err := component.Finish(ctx, c, pulumi.Map{
		"namespace": c.Namespace, "deployment": c.Deployment, "service": c.Service,
		"serviceAccount": c.ServiceAccount, "pdb": c.PDB, "hpa": c.HPA, "vpa": c.VPA,
	}); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *ServiceDeployment) build(ctx *pulumi.Context, name string, a *Args) error {
	child := component.Children(c, a.Provider)
	selector := naming.SelectorLabels(a.Name)
	labels := maps.Clone(a.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, selector)
	labels[naming.PartOfLabel] = naming.PartOf
	labels[naming.ManagedByLabel] = "pulumi"
	meta := func(n string) *metav1.ObjectMetaArgs {
		return &metav1.ObjectMetaArgs{Name: pulumi.String(n), Namespace: a.Namespace, Labels: pulumi.ToStringMap(labels)}
	}

	sa, err := corev1.NewServiceAccount(ctx, name+"-sa", &corev1.ServiceAccountArgs{
		Metadata:                     meta(a.ServiceAccount),
		AutomountServiceAccountToken: pulumi.Bool(a.AutomountServiceAccountToken),
	}, child...)
	if err != nil {
		return fmt.Errorf("service account: %w", err)
	}

	deploy, err := appsv1.NewDeployment(ctx, name+"-deployment", &appsv1.DeploymentArgs{
		Metadata: meta(a.Name),
		Spec: &appsv1.DeploymentSpecArgs{
			Replicas:             pulumi.Int(a.Replicas),
			RevisionHistoryLimit: pulumi.Int(5),
			Selector:             &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			Strategy: &appsv1.DeploymentStrategyArgs{
				Type: pulumi.String("RollingUpdate"),
				RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{
					MaxSurge:       pulumi.String("25%"),
					MaxUnavailable: pulumi.Int(0),
				},
			},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: pulumi.ToStringMap(labels), Annotations: podAnnotations(a.PodAnnotations)},
				Spec:     podSpec(a, sa.Metadata.Name().Elem(), selector),
			},
		},
	}, component.With(child,
		// Replicas is the initial count, so the first rollout already has
		// the PDB's and HPA's minimum; from then on the HPA owns the count
		// and a later `up` must not reset what it scaled to (kube-score's
		// "no replicas under an HPA" is ignored for this reason:
		// tests/stack/kube-score-ignores.yaml).
		pulumi.IgnoreChanges([]string{"spec.replicas"}))...)
	if err != nil {
		return fmt.Errorf("deployment: %w", err)
	}

	svc, err := corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: meta(a.Name),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: pulumi.ToStringMap(selector),
			Ports: corev1.ServicePortArray{
				&corev1.ServicePortArgs{Name: pulumi.String("http"), Port: pulumi.Int(a.Port), TargetPort: pulumi.String("http"), AppProtocol: pulumi.String("http")},
				&corev1.ServicePortArgs{Name: pulumi.String("http-metrics"), Port: pulumi.Int(a.MetricsPort), TargetPort: pulumi.String("metrics"), AppProtocol: pulumi.String("http")},
			},
		},
	}, component.With(child, pulumi.DependsOn([]pulumi.Resource{deploy}))...)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}

	pdbSpec := &policyv1.PodDisruptionBudgetSpecArgs{
		Selector:                   &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
		UnhealthyPodEvictionPolicy: pulumi.String("AlwaysAllow"),
	}
	if d := a.DisruptionBudget; d.MinAvailable > 0 {
		pdbSpec.MinAvailable = pulumi.Int(d.MinAvailable)
	} else {
		pdbSpec.MaxUnavailable = pulumi.Int(d.MaxUnavailable)
	}
	pdb, err := policyv1.NewPodDisruptionBudget(ctx, name+"-pdb", &policyv1.PodDisruptionBudgetArgs{
		Metadata: meta(a.Name), Spec: pdbSpec,
	}, child...)
	if err != nil {
		return fmt.Errorf("pod disruption budget: %w", err)
	}

	hpa, err := autoscalingv2.NewHorizontalPodAutoscaler(ctx, name+"-hpa", &autoscalingv2.HorizontalPodAutoscalerArgs{
		Metadata: meta(a.Name),
		Spec:     hpaSpec(a, deploy.Metadata.Name().Elem()),
	}, child...)
	if err != nil {
		return fmt.Errorf("horizontal pod autoscaler: %w", err)
	}

	vpaSpec, err := VPASpec(a)
	if err != nil {
		return err
	}
	vpa, err := kobject.RegisterIn(ctx, name+"-vpa", kinds.VerticalPodAutoscaler,
		kinds.VerticalPodAutoscaler.Of(a.Name, "", labels, vpaSpec), a.Namespace,
		component.With(child, pulumi.DependsOn([]pulumi.Resource{deploy}))...)
	if err != nil {
		return fmt.Errorf("vertical pod autoscaler: %w", err)
	}

	c.Namespace = deploy.Metadata.Namespace().Elem()
	c.Deployment = deploy.Metadata.Name().Elem()
	c.Service = svc.Metadata.Name().Elem()
	c.ServiceAccount = sa.Metadata.Name().Elem()
	c.PDB = pdb.Metadata.Name().Elem()
	c.HPA = hpa.Metadata.Name().Elem()
	c.VPA = vpa.Metadata.Name().Elem()
	return nil
}

// podAnnotations is nil for none, so that no empty map shows as a diff.
func podAnnotations(m map[string]string) pulumi.StringMapInput {
	if len(m) == 0 {
		return nil
	}
	return pulumi.ToStringMap(m)
}

func podSpec(a *Args, serviceAccount pulumi.StringInput, selector map[string]string) *corev1.PodSpecArgs {
	env := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("POD_NAME"), ValueFrom: fieldRef("metadata.name")},
		&corev1.EnvVarArgs{Name: pulumi.String("POD_NAMESPACE"), ValueFrom: fieldRef("metadata.namespace")},
		&corev1.EnvVarArgs{Name: pulumi.String("HTTP_PORT"), Value: pulumi.String(strconv.Itoa(a.Port))},
		&corev1.EnvVarArgs{Name: pulumi.String("METRICS_PORT"), Value: pulumi.String(strconv.Itoa(a.MetricsPort))},
	}
	for _, k := range slices.Sorted(maps.Keys(a.Env)) {
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(k), Value: pulumi.String(a.Env[k])})
	}
	for _, k := range slices.Sorted(maps.Keys(a.SecretEnv)) {
		ref := a.SecretEnv[k]
		env = append(env, &corev1.EnvVarArgs{Name: pulumi.String(k), ValueFrom: &corev1.EnvVarSourceArgs{
			SecretKeyRef: &corev1.SecretKeySelectorArgs{Name: pulumi.String(ref.Secret), Key: pulumi.String(ref.Key)}}})
	}
	mounts := corev1.VolumeMountArray{
		&corev1.VolumeMountArgs{Name: pulumi.String("tmp"), MountPath: pulumi.String("/tmp")},
	}
	volumes := corev1.VolumeArray{
		// A read-only root filesystem still needs a scratch directory.
		// Its size counts against the ephemeral-storage limit, which
		// validation keeps above it.
		&corev1.VolumeArgs{Name: pulumi.String("tmp"), EmptyDir: &corev1.EmptyDirVolumeSourceArgs{SizeLimit: pulumi.String(a.TmpSize)}},
	}
	for i, v := range a.SecretVolumes {
		name := pulumi.String(fmt.Sprintf("secret-%d", i))
		mounts = append(mounts, &corev1.VolumeMountArgs{Name: name, MountPath: pulumi.String(v.MountPath), ReadOnly: pulumi.Bool(true)})
		volumes = append(volumes, &corev1.VolumeArgs{Name: name, Secret: &corev1.SecretVolumeSourceArgs{
			// Owner-readable only: the container runs as the pod's user.
			SecretName: pulumi.String(v.Secret), DefaultMode: pulumi.Int(0o400)}})
	}
	if t := a.TokenVolume; t != nil {
		volumes = append(volumes, &corev1.VolumeArgs{Name: pulumi.String(t.Name), Projected: &corev1.ProjectedVolumeSourceArgs{
			Sources: corev1.VolumeProjectionArray{&corev1.VolumeProjectionArgs{ServiceAccountToken: &corev1.ServiceAccountTokenProjectionArgs{
				Audience: pulumi.String(t.Audience), ExpirationSeconds: pulumi.Int(int(t.ExpirationSeconds)), Path: pulumi.String(t.Path)}}},
			DefaultMode: pulumi.Int(0o400),
		}})
	}
	probe := func(path string, period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(path), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(2),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	spread := func(topologyKey string) *corev1.TopologySpreadConstraintArgs {
		return &corev1.TopologySpreadConstraintArgs{
			MaxSkew:           pulumi.Int(1),
			TopologyKey:       pulumi.String(topologyKey),
			WhenUnsatisfiable: pulumi.String(a.TopologySpread),
			LabelSelector:     &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			MatchLabelKeys:    pulumi.ToStringArray([]string{"pod-template-hash"}),
		}
	}
	return &corev1.PodSpecArgs{
		ServiceAccountName:            serviceAccount,
		AutomountServiceAccountToken:  pulumi.Bool(a.AutomountServiceAccountToken),
		TerminationGracePeriodSeconds: pulumi.Int(a.TerminationGracePeriodSeconds),
		EnableServiceLinks:            pulumi.Bool(false),
		SecurityContext: &corev1.PodSecurityContextArgs{
			RunAsNonRoot:   pulumi.Bool(true),
			RunAsUser:      pulumi.Int(65532),
			RunAsGroup:     pulumi.Int(65532),
			FsGroup:        pulumi.Int(65532),
			SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
		},
		TopologySpreadConstraints: corev1.TopologySpreadConstraintArray{
			spread("topology.kubernetes.io/zone"),
			spread("kubernetes.io/hostname"),
		},
		Containers: corev1.ContainerArray{&corev1.ContainerArgs{
			Name:            pulumi.String(a.Name),
			Image:           pulumi.String(a.Image),
			ImagePullPolicy: pulumi.String(PullPolicy(a.Image)),
			Ports: corev1.ContainerPortArray{
				&corev1.ContainerPortArgs{Name: pulumi.String("http"), ContainerPort: pulumi.Int(a.Port), Protocol: pulumi.String("TCP")},
				&corev1.ContainerPortArgs{Name: pulumi.String("metrics"), ContainerPort: pulumi.Int(a.MetricsPort), Protocol: pulumi.String("TCP")},
			},
			Env: env,
			Resources: &corev1.ResourceRequirementsArgs{
				Requests: pulumi.StringMap{
					"cpu": pulumi.String(a.Resources.RequestsCPU), "memory": pulumi.String(a.Resources.RequestsMemory),
					"ephemeral-storage": pulumi.String(a.Resources.RequestsEphemeralStorage),
				},
				Limits: pulumi.StringMap{
					"cpu": pulumi.String(a.Resources.LimitsCPU), "memory": pulumi.String(a.Resources.LimitsMemory),
					"ephemeral-storage": pulumi.String(a.Resources.LimitsEphemeralStorage),
				},
			},
			// The startup probe holds liveness off while migrations run
			// (up to 60 s); readiness fails fast so draining pods leave the
			// endpoints at once.
			StartupProbe:   probe(StartupPath, 2, 30),
			LivenessProbe:  probe(LivePath, 10, 3),
			ReadinessProbe: probe(ReadyPath, 5, 2),
			Lifecycle: &corev1.LifecycleArgs{
				// The kubelet's own sleep: no shell or sleep binary needed
				// in distroless images. It lets endpoints and the mesh stop
				// routing to the pod before the process gets SIGTERM.
				PreStop: &corev1.LifecycleHandlerArgs{Sleep: &corev1.SleepActionArgs{Seconds: pulumi.Int(a.PreStopSleepSeconds)}},
			},
			SecurityContext: &corev1.SecurityContextArgs{
				RunAsNonRoot:             pulumi.Bool(true),
				ReadOnlyRootFilesystem:   pulumi.Bool(true),
				AllowPrivilegeEscalation: pulumi.Bool(false),
				Privileged:               pulumi.Bool(false),
				Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.ToStringArray([]string{"ALL"})},
				SeccompProfile:           &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
			},
			VolumeMounts: mounts,
		}},
		Volumes: volumes,
	}
}

func fieldRef(path string) *corev1.EnvVarSourceArgs {
	return &corev1.EnvVarSourceArgs{FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String(path)}}
}

func hpaSpec(a *Args, deployment pulumi.StringInput) *autoscalingv2.HorizontalPodAutoscalerSpecArgs {
	util := func(res string, pct int) *autoscalingv2.MetricSpecArgs {
		return &autoscalingv2.MetricSpecArgs{
			Type: pulumi.String("Resource"),
			Resource: &autoscalingv2.ResourceMetricSourceArgs{
				Name:   pulumi.String(res),
				Target: &autoscalingv2.MetricTargetArgs{Type: pulumi.String("Utilization"), AverageUtilization: pulumi.Int(pct)},
			},
		}
	}
	policy := func(kind string, value, period int) *autoscalingv2.HPAScalingPolicyArgs {
		return &autoscalingv2.HPAScalingPolicyArgs{Type: pulumi.String(kind), Value: pulumi.Int(value), PeriodSeconds: pulumi.Int(period)}
	}
	return &autoscalingv2.HorizontalPodAutoscalerSpecArgs{
		ScaleTargetRef: &autoscalingv2.CrossVersionObjectReferenceArgs{
			ApiVersion: pulumi.String("apps/v1"), Kind: pulumi.String("Deployment"), Name: deployment,
		},
		MinReplicas: pulumi.Int(a.Autoscaling.MinReplicas),
		MaxReplicas: pulumi.Int(a.Autoscaling.MaxReplicas),
		Metrics: autoscalingv2.MetricSpecArray{
			util("cpu", a.Autoscaling.TargetCPUUtilization),
			util("memory", a.Autoscaling.TargetMemoryUtilization),
		},
		// Scale up fast (double, or +4 pods, every 15 s, no stabilisation);
		// scale down slowly (10% a minute after 5 minutes of low load) so a
		// short lull doesn't drop the capacity the next burst needs.
		Behavior: &autoscalingv2.HorizontalPodAutoscalerBehaviorArgs{
			ScaleUp: &autoscalingv2.HPAScalingRulesArgs{
				StabilizationWindowSeconds: pulumi.Int(0),
				SelectPolicy:               pulumi.String("Max"),
				Policies:                   autoscalingv2.HPAScalingPolicyArray{policy("Percent", 100, 15), policy("Pods", 4, 15)},
			},
			ScaleDown: &autoscalingv2.HPAScalingRulesArgs{
				StabilizationWindowSeconds: pulumi.Int(300),
				SelectPolicy:               pulumi.String("Min"),
				Policies:                   autoscalingv2.HPAScalingPolicyArray{policy("Percent", 10, 60)},
			},
		},
	}
}

// VPASpec recommends between the configured requests and limits, so that
// a VPA switched from "Off" to an active mode can't size a pod beyond what
// the environment budgets.
func VPASpec(a *Args) (vpav1.VerticalPodAutoscalerSpec, error) {
	mode := vpav1.UpdateMode(a.VPAMode)
	controlled := []k8scorev1.ResourceName{k8scorev1.ResourceCPU, k8scorev1.ResourceMemory}
	q := map[string]resource.Quantity{}
	for _, v := range []string{a.Resources.RequestsCPU, a.Resources.RequestsMemory, a.Resources.LimitsCPU, a.Resources.LimitsMemory} {
		parsed, err := resource.ParseQuantity(v)
		if err != nil {
			return vpav1.VerticalPodAutoscalerSpec{}, fmt.Errorf("vertical pod autoscaler: %q: %w", v, err)
		}
		q[v] = parsed
	}
	return vpav1.VerticalPodAutoscalerSpec{
		TargetRef:    &autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: a.Name},
		UpdatePolicy: &vpav1.PodUpdatePolicy{UpdateMode: &mode},
		ResourcePolicy: &vpav1.PodResourcePolicy{ContainerPolicies: []vpav1.ContainerResourcePolicy{{
			ContainerName:       a.Name,
			ControlledResources: &controlled,
			MinAllowed:          k8scorev1.ResourceList{k8scorev1.ResourceCPU: q[a.Resources.RequestsCPU], k8scorev1.ResourceMemory: q[a.Resources.RequestsMemory]},
			MaxAllowed:          k8scorev1.ResourceList{k8scorev1.ResourceCPU: q[a.Resources.LimitsCPU], k8scorev1.ResourceMemory: q[a.Resources.LimitsMemory]},
		}}},
	}, nil
}
