console.log("aws-refresh");
