module memorymesh/guideclient

go 1.19
