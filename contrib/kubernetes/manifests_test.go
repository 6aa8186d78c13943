// Package kubernetes_test checks the manifests under contrib/kubernetes: every
// YAML document is decoded strictly into its Kubernetes API type (an unknown
// or misspelt field, a duplicate key or a wrong type fails), and the wiring
// collect relies on is checked: the shard flags reach the container, K comes
// from the pod's ordinal or completion index, N equals the replicas or
// completions, --db lies on the data volume, the metrics port is annotated
// for Prometheus, --memory-limit fits under the container's memory limit,
// each shard's cookie files come from its own Secret.
//
// It is a module of its own so that the Kubernetes API modules stay out of
// danmakud's module graph: `go test ./...` here, or make kube-verify.
package kubernetes_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dustin/go-humanize"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// manifest is one decoded YAML document.
type manifest struct {
	where string // file and document number, for messages
	obj   any    // *appsv1.StatefulSet, *batchv1.CronJob, …
}

// newObject returns an empty value of the API type apiVersion/kind names,
// or nil for a kind these manifests do not use.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "apps/v1 StatefulSet":
		return &appsv1.StatefulSet{}
	case "batch/v1 Job":
		return &batchv1.Job{}
	case "batch/v1 CronJob":
		return &batchv1.CronJob{}
	case "v1 Service":
		return &corev1.Service{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	}
	return nil
}

// decodeStrict decodes every document of a YAML stream into its API type.
func decodeStrict(name string, r io.Reader) ([]manifest, error) {
	var out []manifest
	yr := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for n := 1; ; n++ {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		where := fmt.Sprintf("%s (document %d)", name, n)
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if tm.APIVersion == "" && tm.Kind == "" && len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue // only comments
		}
		obj := newObject(tm.APIVersion, tm.Kind)
		if obj == nil {
			return nil, fmt.Errorf("%s: apiVersion %q kind %q: not a type this test knows", where, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", where, tm.APIVersion, tm.Kind, err)
		}
		out = append(out, manifest{where, obj})
	}
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for line := range bytes.Lines(doc) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			b.Write(line)
		}
	}
	return b.Bytes()
}

// loadDir decodes every manifest (*.yaml but kustomization.yaml) under dir.
func loadDir(t *testing.T, dir string) []manifest {
	t.Helper()
	var all []manifest
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" || d.Name() == "kustomization.yaml" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		ms, err := decodeStrict(p, f)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return fmt.Errorf("%s: no manifest in it", p)
		}
		all = append(all, ms...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func only[T any](t *testing.T, ms []manifest) (*T, string) {
	t.Helper()
	var found []manifest
	for _, m := range ms {
		if _, ok := m.obj.(*T); ok {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %T, found %d", new(T), len(found))
	}
	return found[0].obj.(*T), found[0].where
}

// The decoding really is strict: a misspelt field, a duplicate key and a
// wrong type are refused, where a plain decode would drop or coerce them.
func TestDecodeIsStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replica: 3}\n",
		"nested field":  "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\nspec: {schedule: '0 * * * *', jobTemplate: {spec: {completionMod: Indexed}}}\n",
		"duplicate key": "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n",
		"wrong type":    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replicas: four}\n",
		"unknown kind":  "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: x}\n",
	} {
		if _, err := decodeStrict(name, strings.NewReader(doc)); err == nil {
			t.Errorf("%s: decoded without error:\n%s", name, doc)
		}
	}
	ms, err := decodeStrict("good", strings.NewReader("# c\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec: {replicas: 3}\n"))
	if err != nil || len(ms) != 1 || *ms[0].obj.(*appsv1.StatefulSet).Spec.Replicas != 3 {
		t.Fatalf("a good document: %v, %d manifests", err, len(ms))
	}
}

// kustomization is the part of kustomize's Kustomization these directories
// use; decoding it strictly catches a misspelt key.
type kustomization struct {
	APIVersion string           `json:"apiVersion"`
	Kind       string           `json:"kind"`
	Resources  []string         `json:"resources"`
	Images     []kustomizeImage `json:"images"`
}

type kustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName"`
	NewTag  string `json:"newTag"`
}

// Each kustomization lists exactly the manifests beside it and sets the
// placeholder image every collect container names.
func TestKustomizations(t *testing.T) {
	for _, dir := range []string{"statefulset", "cronjob"} {
		b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var k kustomization
		if err := yaml.UnmarshalStrict(b, &k); err != nil {
			t.Fatalf("%s/kustomization.yaml: %v", dir, err)
		}
		if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
			t.Errorf("%s/kustomization.yaml: apiVersion %q kind %q", dir, k.APIVersion, k.Kind)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
		var want []string
		for _, f := range files {
			if filepath.Base(f) != "kustomization.yaml" {
				want = append(want, filepath.Base(f))
			}
		}
		got := slices.Sorted(slices.Values(k.Resources))
		if !slices.Equal(got, want) {
			t.Errorf("%s/kustomization.yaml: resources %v, want every manifest beside it: %v", dir, got, want)
		}
		for _, m := range loadDir(t, dir) {
			spec := podSpec(m.obj)
			if spec == nil {
				continue
			}
			for _, c := range spec.Containers {
				if !slices.ContainsFunc(k.Images, func(i kustomizeImage) bool {
					return i.Name == c.Image && i.NewName != "" && i.NewTag != ""
				}) {
					t.Errorf("%s: container %s: image %q is not set by %s/kustomization.yaml", m.where, c.Name, c.Image, dir)
				}
			}
		}
	}
}

func podSpec(obj any) *corev1.PodSpec {
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec
	case *batchv1.Job:
		return &o.Spec.Template.Spec
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec
	}
	return nil
}

func TestStatefulSet(t *testing.T) {
	ms := loadDir(t, "statefulset")
	sts, where := only[appsv1.StatefulSet](t, ms)
	svc, _ := only[corev1.Service](t, ms)
	if sts.Spec.Replicas == nil {
		t.Fatalf("%s: no replicas: N must be explicit", where)
	}
	w := checkShardPod(t, where, &sts.Spec.Template, shardIndex{
		fieldPath: fmt.Sprintf("metadata.labels['%s']", appsv1.PodIndexLabel),
	}, func(volume string) bool {
		return slices.ContainsFunc(sts.Spec.VolumeClaimTemplates, func(c corev1.PersistentVolumeClaim) bool { return c.Name == volume })
	})
	if int(*sts.Spec.Replicas) != w.n {
		t.Errorf("%s: replicas %d but --shard says N = %d", where, *sts.Spec.Replicas, w.n)
	}
	if w.dbHasIndex {
		t.Errorf("%s: --db names the shard, but each pod has a volume of its own: keep one name", where)
	}
	sel, err := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(sts.Spec.Template.Labels)) {
		t.Errorf("%s: selector %v does not match the pod labels %v (%v)", where, sts.Spec.Selector, sts.Spec.Template.Labels, err)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("%s: podManagementPolicy %q: shards are independent, start them in parallel", where, sts.Spec.PodManagementPolicy)
	}
	if p := sts.Spec.PersistentVolumeClaimRetentionPolicy; p == nil || p.WhenDeleted != appsv1.RetainPersistentVolumeClaimRetentionPolicyType || p.WhenScaled != appsv1.RetainPersistentVolumeClaimRetentionPolicyType {
		t.Errorf("%s: the shards' volumes must be retained when scaled down or deleted (their files are merged later)", where)
	}
	// The headless Service the StatefulSet names, selecting its pods.
	if svc.Name != sts.Spec.ServiceName || svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("service %q (clusterIP %q): want the headless Service %q the StatefulSet names", svc.Name, svc.Spec.ClusterIP, sts.Spec.ServiceName)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(sts.Spec.Template.Labels)) {
		t.Errorf("service %s: selector %v does not select the shards' pods", svc.Name, svc.Spec.Selector)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == int32(w.metricsPort) }) {
		t.Errorf("service %s: no port %d (metrics)", svc.Name, w.metricsPort)
	}
	checkSecretExample(t, w)
}

func TestCronJob(t *testing.T) {
	ms := loadDir(t, "cronjob")
	cj, where := only[batchv1.CronJob](t, ms)
	pvc, _ := only[corev1.PersistentVolumeClaim](t, ms)
	js := &cj.Spec.JobTemplate.Spec
	if js.CompletionMode == nil || *js.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("%s: completionMode must be Indexed (K is the completion index)", where)
	}
	vols := js.Template.Spec.Volumes
	w := checkShardPod(t, where, &js.Template, shardIndex{
		env:       "JOB_COMPLETION_INDEX",
		fieldPath: fmt.Sprintf("metadata.labels['%s']", batchv1.JobCompletionIndexAnnotation),
		injected:  true,
	}, func(volume string) bool {
		return slices.ContainsFunc(vols, func(v corev1.Volume) bool {
			return v.Name == volume && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name
		})
	})
	if js.Completions == nil || js.Parallelism == nil || int(*js.Completions) != w.n || int(*js.Parallelism) != w.n {
		t.Errorf("%s: completions and parallelism must both be N = %d (from --shard)", where, w.n)
	}
	if !w.dbHasIndex {
		t.Errorf("%s: every shard writes to the one shared volume: --db must name the shard", where)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("%s: %v: the shards' pods share the volume from any node: want ReadWriteMany", pvc.Name, pvc.Spec.AccessModes)
	}
	if js.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restartPolicy %q: a pod failure policy needs Never", where, js.Template.Spec.RestartPolicy)
	}
	// The runs never overlap: a run's collecting, its final flush, the
	// deadline and the grace period all end before the next run.
	period, err := cronPeriod(cj.Spec.Schedule)
	if err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("%s: concurrencyPolicy %q: runs of one shard must not overlap on its file", where, cj.Spec.ConcurrencyPolicy)
	}
	if w.duration <= 0 {
		t.Fatalf("%s: collect needs --duration below the schedule's period %v", where, period)
	}
	if js.ActiveDeadlineSeconds == nil {
		t.Fatalf("%s: no activeDeadlineSeconds: a run that does not stop would hold its file into the next hour", where)
	}
	deadline := time.Duration(*js.ActiveDeadlineSeconds) * time.Second
	if w.duration+stopBudget > deadline {
		t.Errorf("%s: --duration %v plus the stop (%v) is past activeDeadlineSeconds (%v)", where, w.duration, stopBudget, deadline)
	}
	if deadline+w.grace >= period {
		t.Errorf("%s: activeDeadlineSeconds %v plus the grace period %v reach the next run (every %v)", where, deadline, w.grace, period)
	}
	checkSecretExample(t, w)
}

// stopBudget is how long collect takes to stop after --duration or SIGTERM
// at most: the drain (5 s) and the final flush (--final-flush-timeout's
// default, 1m).
const stopBudget = 65 * time.Second

// cronPeriod returns the period of an hourly or every-H-hours schedule
// ("M * * * *", "M */H * * *"), the forms these manifests use.
func cronPeriod(schedule string) (time.Duration, error) {
	f := strings.Fields(schedule)
	if len(f) != 5 || f[2] != "*" || f[3] != "*" || f[4] != "*" {
		return 0, fmt.Errorf("schedule %q: this test knows only hourly forms (M * * * *, M */H * * *)", schedule)
	}
	if m, err := strconv.Atoi(f[0]); err != nil || m < 0 || m > 59 {
		return 0, fmt.Errorf("schedule %q: minute %q", schedule, f[0])
	}
	if f[1] == "*" {
		return time.Hour, nil
	}
	h, err := strconv.Atoi(strings.TrimPrefix(f[1], "*/"))
	if !strings.HasPrefix(f[1], "*/") || err != nil || h < 1 || 24%h != 0 {
		return 0, fmt.Errorf("schedule %q: hour %q", schedule, f[1])
	}
	return time.Duration(h) * time.Hour, nil
}

// shardIndex says where K comes from: the environment variable env (any
// name when empty) set from fieldPath, or, when injected, one the controller
// adds itself and the manifest may leave out.
type shardIndex struct {
	env       string
	fieldPath string
	injected  bool
}

// wiring is what checkShardPod found.
type wiring struct {
	n           int           // N, from --shard
	cookieKeys  []string      // the Secret keys each shard's cookie files come from
	metricsPort int           // from --metrics-addr
	duration    time.Duration // --duration (0 = none)
	grace       time.Duration // terminationGracePeriodSeconds
	dbHasIndex  bool          // --db names the shard
}

var shardArg = regexp.MustCompile(`^\$\(([A-Za-z_][A-Za-z0-9_]*)\)/([1-9][0-9]*)$`)
var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkShardPod checks one shard's pod template: its collect container,
// where K and N come from, the data volume (dataVolume reports whether a
// volume name is the shard's database volume), the metrics annotations, the
// memory limit and the cookie files.
func checkShardPod(t *testing.T, where string, tmpl *corev1.PodTemplateSpec, index shardIndex, dataVolume func(string) bool) wiring {
	t.Helper()
	spec := &tmpl.Spec
	c := container(spec.Containers, "collect")
	if c == nil {
		t.Fatalf("%s: no container named collect", where)
	}
	flags := parseArgs(t, where, c)
	var w wiring

	// --shard=$(VAR)/N, VAR the pod's index.
	m := shardArg.FindStringSubmatch(one(t, where, flags, "shard"))
	if m == nil {
		t.Fatalf("%s: --shard %q: want $(VAR)/N, VAR holding the pod's index", where, flags["shard"][0])
	}
	w.n, _ = strconv.Atoi(m[2])
	checkIndexVar(t, where, c, m[1], index)
	for _, a := range c.Args {
		for _, r := range varRef.FindAllStringSubmatch(a, -1) {
			if r[1] != m[1] && envVar(c, r[1]) == nil {
				t.Errorf("%s: argument %q refers to $(%s), which the container does not define", where, a, r[1])
			}
		}
	}

	// --db on the data volume, writable.
	db := one(t, where, flags, "db")
	w.dbHasIndex = strings.Contains(db, "$("+m[1]+")")
	mnt := mountOf(c, db)
	switch {
	case mnt == nil:
		t.Errorf("%s: --db %s is on no volume: it would be lost with the container", where, db)
	case !dataVolume(mnt.Name):
		t.Errorf("%s: --db %s is on volume %q, not the shard's persistent volume", where, db, mnt.Name)
	case mnt.ReadOnly:
		t.Errorf("%s: --db %s: volume %q is mounted read-only", where, db, mnt.Name)
	}

	w.metricsPort = checkMetrics(t, where, tmpl, c, one(t, where, flags, "metrics-addr"))
	checkMemory(t, where, c, one(t, where, flags, "memory-limit"))
	w.cookieKeys = checkCookies(t, where, spec, c, flags["cookie-file"], w.n, m[1], index)

	if d, ok := flags["duration"]; ok {
		var err error
		if w.duration, err = time.ParseDuration(d[0]); err != nil || w.duration <= 0 {
			t.Errorf("%s: --duration %q: %v", where, d[0], err)
		}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		t.Fatalf("%s: terminationGracePeriodSeconds unset: the default 30 s cuts collect's final flush", where)
	}
	w.grace = time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
	if w.grace < stopBudget {
		t.Errorf("%s: terminationGracePeriodSeconds %v: collect may need %v to stop", where, w.grace, stopBudget)
	}
	checkVolumesUsed(t, where, spec, dataVolume)
	return w
}

// parseArgs reads collect's --name=value arguments (the one form used here:
// no value in a separate argument to misread). Flags without a value get "".
func parseArgs(t *testing.T, where string, c *corev1.Container) map[string][]string {
	t.Helper()
	if len(c.Args) == 0 || c.Args[0] != "collect" {
		t.Fatalf("%s: container %s: args %q: want collect and its flags", where, c.Name, c.Args)
	}
	flags := map[string][]string{}
	for _, a := range c.Args[1:] {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || name == "" {
			t.Fatalf("%s: argument %q: want --name=value", where, a)
		}
		flags[name] = append(flags[name], value)
	}
	return flags
}

func one(t *testing.T, where string, flags map[string][]string, name string) string {
	t.Helper()
	if v := flags[name]; len(v) != 1 || v[0] == "" {
		t.Fatalf("%s: want one --%s=VALUE, have %q", where, name, v)
	}
	return flags[name][0]
}

func container(cs []corev1.Container, name string) *corev1.Container {
	for i := range cs {
		if cs[i].Name == name {
			return &cs[i]
		}
	}
	return nil
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// checkIndexVar checks that variable name of container c holds the pod's
// index as index describes.
func checkIndexVar(t *testing.T, where string, c *corev1.Container, name string, index shardIndex) {
	t.Helper()
	if index.env != "" && name != index.env {
		t.Errorf("%s: container %s: K is $(%s), want $(%s)", where, c.Name, name, index.env)
	}
	e := envVar(c, name)
	if e == nil {
		if !index.injected {
			t.Errorf("%s: container %s: $(%s) is not defined: set it from %s", where, c.Name, name, index.fieldPath)
		}
		return
	}
	if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != index.fieldPath {
		t.Errorf("%s: container %s: %s must come from the pod's %s", where, c.Name, name, index.fieldPath)
	}
}

// mountOf returns c's volume mount that holds file p (the deepest one).
func mountOf(c *corev1.Container, p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if strings.HasPrefix(path.Clean(p), dir) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
			best = &c.VolumeMounts[i]
		}
	}
	return best
}

// checkMetrics checks that collect serves /metrics on every address of the
// pod at a declared port, and that the pod's Prometheus annotations name it.
func checkMetrics(t *testing.T, where string, tmpl *corev1.PodTemplateSpec, c *corev1.Container, addr string) int {
	t.Helper()
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil || port <= 0 || port > 65535 {
		t.Fatalf("%s: --metrics-addr %q: want [HOST]:PORT", where, addr)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s: --metrics-addr %q: Prometheus scrapes the pod's address, so listen on all (:%d)", where, addr, port)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "metrics" && int(p.ContainerPort) == port }) {
		t.Errorf("%s: container %s declares no port named metrics = %d", where, c.Name, port)
	}
	a := tmpl.Annotations
	if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != portStr || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: pod annotations %v: want prometheus.io/scrape \"true\", port %q, path /metrics", where, a, portStr)
	}
	return port
}

// checkMemory checks that --memory-limit (collect's own budget, a soft
// limit) stays at most 90 % of the container's hard limit, which the rest of
// the process (the Go runtime, SQLite's cache) needs room under.
func checkMemory(t *testing.T, where string, c *corev1.Container, flag string) {
	t.Helper()
	lim, ok := c.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		t.Fatalf("%s: container %s has no memory limit", where, c.Name)
	}
	req, ok := c.Resources.Requests[corev1.ResourceMemory]
	if !ok || req.Cmp(lim) != 0 {
		t.Errorf("%s: container %s: memory request %v, limit %v: request what the limit allows, or the node may run out first", where, c.Name, req.String(), lim.String())
	}
	ml, err := humanize.ParseBytes(flag)
	if err != nil {
		t.Fatalf("%s: --memory-limit %q: %v", where, flag, err)
	}
	if float64(ml) > 0.9*float64(lim.Value()) {
		t.Errorf("%s: --memory-limit %s (%d B) is over 90%% of the container's limit %s (%d B)", where, flag, ml, lim.String(), lim.Value())
	}
}

// checkCookies checks the cookie files: each --cookie-file lies on a
// read-only tmpfs that an init container fills from the projected volume of
// every shard's Secret danmakud-cookies-K (under shard-K/), which collect
// itself does not mount. It returns the Secret keys.
func checkCookies(t *testing.T, where string, spec *corev1.PodSpec, c *corev1.Container, files []string, n int, indexVar string, index shardIndex) []string {
	t.Helper()
	if len(files) == 0 {
		t.Fatalf("%s: no --cookie-file: each shard logs in with its own accounts", where)
	}
	var keys []string
	var tmpfs string
	for _, f := range files {
		mnt := mountOf(c, f)
		if mnt == nil || !mnt.ReadOnly || path.Dir(f) != mnt.MountPath {
			t.Fatalf("%s: --cookie-file %s: want a file at the top of a read-only mount", where, f)
		}
		v := volume(spec, mnt.Name)
		if v == nil || v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory {
			t.Errorf("%s: --cookie-file %s: volume %q is not a memory emptyDir: a login would reach the node's disk", where, f, mnt.Name)
		}
		tmpfs = mnt.Name
		keys = append(keys, path.Base(f))
	}

	// The Secrets: danmakud-cookies-K for K in 0..N-1, every key, in shard-K/.
	var secrets *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Projected != nil {
			secrets = &spec.Volumes[i]
		}
	}
	if secrets == nil {
		t.Fatalf("%s: no projected volume of the shards' Secrets", where)
	}
	srcs := secrets.Projected.Sources
	if len(srcs) != n {
		t.Errorf("%s: volume %s projects %d sources, want one Secret per shard (N = %d)", where, secrets.Name, len(srcs), n)
	}
	for k, s := range srcs {
		name := fmt.Sprintf("danmakud-cookies-%d", k)
		if s.Secret == nil || s.Secret.Name != name {
			t.Errorf("%s: volume %s: source %d is not the Secret %s", where, secrets.Name, k, name)
			continue
		}
		var got []string
		for _, it := range s.Secret.Items {
			if it.Path != fmt.Sprintf("shard-%d/%s", k, it.Key) {
				t.Errorf("%s: Secret %s: key %s projected to %s, want shard-%d/%s", where, name, it.Key, it.Path, k, it.Key)
			}
			got = append(got, it.Key)
		}
		if !slices.Equal(got, keys) {
			t.Errorf("%s: Secret %s: keys %v, want the --cookie-file names %v", where, name, got, keys)
		}
	}
	if m := secrets.Projected.DefaultMode; m == nil || *m&0o007 != 0 {
		t.Errorf("%s: volume %s: others must not read the cookie files (defaultMode)", where, secrets.Name)
	}
	if slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == secrets.Name }) {
		t.Errorf("%s: container %s mounts every shard's Secret: only the init container may", where, c.Name)
	}
	checkCookieInit(t, where, spec, secrets.Name, tmpfs, indexVar, index)
	return keys
}

// checkCookieInit checks the init container that copies this shard's
// cookie files from the Secrets' volume to the tmpfs collect reads.
func checkCookieInit(t *testing.T, where string, spec *corev1.PodSpec, secrets, tmpfs, indexVar string, index shardIndex) {
	t.Helper()
	ic := container(spec.InitContainers, "cookies")
	if ic == nil {
		t.Fatalf("%s: no init container named cookies", where)
	}
	checkIndexVar(t, where, ic, indexVar, index)
	var from string
	for _, m := range ic.VolumeMounts {
		switch {
		case m.Name == secrets && m.ReadOnly:
			from = m.MountPath
		case m.Name == tmpfs && !m.ReadOnly:
		default:
			t.Errorf("%s: init container %s: unexpected mount %s at %s (read-only %v)", where, ic.Name, m.Name, m.MountPath, m.ReadOnly)
		}
	}
	script := strings.Join(append(slices.Clone(ic.Command), ic.Args...), " ")
	if from == "" || !strings.Contains(script, from+"/shard-$"+indexVar+"/") {
		t.Errorf("%s: init container %s does not copy from %s/shard-$%s/ (its own shard's files)", where, ic.Name, from, indexVar)
	}
	if sc := spec.SecurityContext; sc == nil || sc.FSGroup == nil || sc.RunAsUser == nil || (ic.SecurityContext != nil && ic.SecurityContext.RunAsUser != nil) {
		t.Errorf("%s: the init container must run as collect's user, and fsGroup let it read the Secrets", where)
	}
}

func volume(spec *corev1.PodSpec, name string) *corev1.Volume {
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == name {
			return &spec.Volumes[i]
		}
	}
	return nil
}

// checkVolumesUsed checks that every mount names a volume (or the claim
// template dataVolume accepts) and that every volume is mounted.
func checkVolumesUsed(t *testing.T, where string, spec *corev1.PodSpec, dataVolume func(string) bool) {
	t.Helper()
	used := map[string]bool{}
	for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		for _, m := range c.VolumeMounts {
			if volume(spec, m.Name) == nil && !dataVolume(m.Name) {
				t.Errorf("%s: container %s mounts %q, which is no volume", where, c.Name, m.Name)
			}
			used[m.Name] = true
		}
	}
	for _, v := range spec.Volumes {
		if !used[v.Name] {
			t.Errorf("%s: volume %s is mounted nowhere", where, v.Name)
		}
		if errs := validation.IsDNS1123Label(v.Name); len(errs) > 0 {
			t.Errorf("%s: volume name %q: %v", where, v.Name, errs)
		}
	}
}

// The example Secret has the name and the keys the workloads project.
func checkSecretExample(t *testing.T, w wiring) {
	t.Helper()
	sec, where := only[corev1.Secret](t, loadDir(t, "."))
	if sec.Name != "danmakud-cookies-0" {
		t.Errorf("%s: name %q, want danmakud-cookies-0 (shard 0's)", where, sec.Name)
	}
	var keys []string
	for k := range sec.StringData {
		keys = append(keys, k)
	}
	for k := range sec.Data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, slices.Sorted(slices.Values(w.cookieKeys))) {
		t.Errorf("%s: keys %v, want the projected keys %v", where, keys, w.cookieKeys)
	}
}
