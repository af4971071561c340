// placeholder: being written this session (fault-injecting FileSystem)
