package argcheck

import (
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
)

type inner struct {
	Name  string `pulumi:"name"`
	Count int    `pulumi:"count"` // never "unset": 0 is a value
	Note  string `pulumi:"note,optional"`
}

type args struct {
	Namespace string             `pulumi:"namespace"`
	Image     pulumi.StringInput `pulumi:"image"`
	Spec      inner              `pulumi:"spec"`
	Items     []inner            `pulumi:"items"`
	Extra     *inner             `pulumi:"extra,optional"`
	Labels    map[string]string  `pulumi:"labels,optional"`
	Plain     string             // no tag: not an input
}

func TestRequiredNamesEveryUnsetInputByPath(t *testing.T) {
	err := Required("Thing", "t", args{Items: []inner{{Name: "a"}, {}}, Extra: &inner{}})
	assert.EqualError(t, err, `Thing "t": namespace: is required`+"\n"+
		`Thing "t": image: is required`+"\n"+
		`Thing "t": spec.name: is required`+"\n"+
		`Thing "t": items[1].name: is required`+"\n"+
		`Thing "t": extra.name: is required`)
}

func TestRequiredAcceptsCompleteArgs(t *testing.T) {
	assert.NoError(t, Required("Thing", "t", &args{
		Namespace: "ns", Image: pulumi.String("img"), Spec: inner{Name: "x"}, Items: []inner{{Name: "a"}},
	}))
}

func TestTag(t *testing.T) {
	name, optional, ok := Tag(structField("Extra"))
	assert.Equal(t, []any{"extra", true, true}, []any{name, optional, ok})
	_, _, ok = Tag(structField("Plain"))
	assert.False(t, ok)
}

func structField(name string) reflect.StructField {
	f, _ := reflect.TypeFor[args]().FieldByName(name)
	return f
}
