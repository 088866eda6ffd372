// Package module holds Reprieve's built-in pipeline modules. Importing it
// registers every kind with the pipeline package; 'reprieve modules' lists
// them with their arguments and defaults.
//
// Modules follow Wishbone's rule: Handle has no error handling. An output
// that cannot deliver returns the error and the runtime routes the message
// to the module's failed queue.
package module
