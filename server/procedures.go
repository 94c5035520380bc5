package server

import "google.golang.org/protobuf/reflect/protoreflect"

// procedures returns the procedures ("/package.Service/Method"), the URL
// paths Connect serves them on, of the methods of services that keep
// accepts. Deriving sets of procedures from the descriptors keeps them
// right as RPCs are added.
func procedures(services protoreflect.ServiceDescriptors, keep func(protoreflect.MethodDescriptor) bool) map[string]bool {
	procs := map[string]bool{}
	for i := range services.Len() {
		sd := services.Get(i)
		for j := range sd.Methods().Len() {
			if md := sd.Methods().Get(j); keep(md) {
				procs["/"+string(sd.FullName())+"/"+string(md.Name())] = true
			}
		}
	}
	return procs
}
