print("rankd")
