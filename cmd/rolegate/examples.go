package main

// examples are the Examples: sections of the commands' help, by command path without "rolegate ".
var examples = map[string]string{}
