package compiler

import "sort"

func sortByName[T any](items []T, name func(T) string) {
	sort.SliceStable(items, func(i, j int) bool { return name(items[i]) < name(items[j]) })
}

func sortStrings(s []string) { sort.Strings(s) }
